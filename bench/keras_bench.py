#!/usr/bin/env python3
"""Keras reference speed of NeuroStageNet, for `npm run bench` (bench/bench.ts) to compare against.

Builds the reference model from /work/shared/golden/neurostagenet_keras.py (imported, never copied):
128x128x1 input, random weights (speed does not depend on their values), and measures

  * inference img/s at batch 1 and batch --batch (model.predict_on_batch: Keras' compiled predict step),
  * training img/s at batch --batch with train_on_batch (Keras' compiled train step: Adam 5e-4,
    CategoricalCrossentropy(label_smoothing=0.15)), for fine_tune=True (backbone layers < 150 frozen)
    and fine_tune=False (all trainable),
  * peak RSS (ru_maxrss) after each phase (cumulative: one process) and at the end.

Every figure is the median over --steps timed steps after --warmup untimed ones (the first call traces
and compiles the tf.function). Prints one JSON object on stdout; logs go to stderr.

  python3 bench/keras_bench.py                      # full run (about 2-4 min on 2 cores)
  python3 bench/keras_bench.py --steps 5 --warmup 2 --batch 32 --phases infer,train_ft,train_all
  python3 bench/keras_bench.py --profile-dir /tmp/kprof   # + op-type breakdown of --profile-steps train steps
  python3 bench/keras_bench.py --golden-compile     # compile with the golden file's metrics (adds AUC)

By default the model is compiled like src/train/compile.ts (Adam(5e-4, epsilon 1e-7), CCE with label
smoothing 0.15, metrics=['accuracy']) so both sides do the same work per step; --golden-compile uses the
golden compile_neurostagenet() instead (accuracy + AUC(200 thresholds)).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GOLDEN_DIR = os.environ.get(
    "NEUROSTAGENET_GOLDEN_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "golden")),
)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def peak_rss_mb():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def median_time(fn, warmup, steps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--steps", type=int, default=5, help="timed steps per figure (median), >= 1")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before timing (first one compiles)")
    p.add_argument("--infer-steps", type=int, default=None, help="timed inference steps (default: max(steps, 10))")
    p.add_argument("--phases", default="infer,train_ft,train_all")
    p.add_argument("--golden-compile", action="store_true")
    p.add_argument("--profile-dir", default=None, help="trace --profile-steps fine-tune train steps with tf.profiler")
    p.add_argument("--profile-steps", type=int, default=3)
    p.add_argument("--profile-phase", default="train_ft", choices=["train_ft", "train_all"])
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    phases = [s for s in args.phases.split(",") if s]

    t_import = time.perf_counter()
    import numpy as np
    import tensorflow as tf
    import keras

    sys.path.insert(0, GOLDEN_DIR)
    try:
        import neurostagenet_keras as ref  # the golden reference model (read-only)
    except ImportError as e:
        raise SystemExit(f"cannot import neurostagenet_keras from {GOLDEN_DIR}: {e}")
    import_s = time.perf_counter() - t_import

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    size, batch = args.size, args.batch
    x_big = rng.uniform(0, 255, size=(batch, size, size, 1)).astype(np.float32)
    x_one = x_big[:1].copy()
    y_big = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=batch)]
    infer_steps = args.infer_steps or max(args.steps, 10)

    def build(fine_tune):
        keras.backend.clear_session()
        model = ref.build_neurostagenet(input_shape=(size, size, 1), fine_tune=fine_tune, compile_model=False)
        if args.golden_compile:
            ref.compile_neurostagenet(model)
        else:
            model.compile(
                optimizer=keras.optimizers.Adam(learning_rate=5e-4, epsilon=1e-7),
                loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.15),
                metrics=["accuracy"],
            )
        return model

    out = {
        "framework": "keras",
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "python": sys.version.split()[0],
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "cpu_count": os.cpu_count(),
        "batch": batch,
        "size": size,
        "steps": args.steps,
        "warmup": args.warmup,
        "compile": "golden (accuracy+AUC)" if args.golden_compile else "Adam 5e-4, CCE ls 0.15, accuracy",
        "import_s": round(import_s, 2),
        "results": {},
    }

    if "infer" in phases:
        model = build(True)
        out["jit_compile"] = bool(getattr(model, "jit_compile", False))
        for b, xs in ((1, x_one), (batch, x_big)):
            t_first = time.perf_counter()
            model.predict_on_batch(xs)  # traces + compiles for this shape
            first_s = time.perf_counter() - t_first
            med, times = median_time(lambda: model.predict_on_batch(xs), args.warmup, infer_steps)
            out["results"][f"infer_b{b}"] = {
                "img_per_s": b / med, "median_ms": med * 1e3, "steps": infer_steps,
                "first_call_s": first_s, "times_ms": [t * 1e3 for t in times],
            }
            log(f"keras infer batch {b}: {b / med:.2f} img/s (median {med * 1e3:.1f} ms)")
        out["results"]["rss_after_infer_mb"] = peak_rss_mb()
        del model

    for phase, fine_tune in (("train_ft", True), ("train_all", False)):
        if phase not in phases:
            continue
        model = build(fine_tune)
        trainable = int(sum(np.prod(v.shape) for v in model.trainable_weights))
        t_first = time.perf_counter()
        model.train_on_batch(x_big, y_big)  # traces + compiles the train step
        first_s = time.perf_counter() - t_first
        med, times = median_time(lambda: model.train_on_batch(x_big, y_big), args.warmup, args.steps)
        out["results"][phase] = {
            "img_per_s": batch / med, "median_ms": med * 1e3, "steps": args.steps,
            "first_call_s": first_s, "trainable_params": trainable, "times_ms": [t * 1e3 for t in times],
        }
        out["results"][f"rss_after_{phase}_mb"] = peak_rss_mb()
        log(f"keras {phase} batch {batch}: {batch / med:.2f} img/s (median {med * 1e3:.0f} ms, {trainable} trainable)")
        if args.profile_dir and phase == args.profile_phase:
            out["profile"] = profile_train_steps(tf, model, x_big, y_big, args.profile_dir, args.profile_steps)
        del model

    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out, indent=1))


def profile_train_steps(tf, model, x, y, logdir, steps):
    """Traces `steps` train steps with tf.profiler and sums device op time by op type (XPlane)."""
    import glob

    tf.profiler.experimental.start(logdir)
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    wall = time.perf_counter() - t0
    tf.profiler.experimental.stop()
    files = sorted(glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb")), key=os.path.getmtime)
    summary = {"steps": steps, "wall_ms_per_step": wall * 1e3 / steps, "xplane": files[-1] if files else None}
    if not files:
        return summary
    try:
        summary.update(summarise_xplane(files[-1], steps))
    except Exception as e:  # the profile is a bonus; never fail the bench for it
        summary["error"] = repr(e)
    return summary


def summarise_xplane(path, steps):
    """Sums op durations on the host TF-op threads of an XPlane file by op type (TF op name 'name:Type')."""
    try:
        from tsl.profiler.protobuf import xplane_pb2
    except ImportError:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2  # older layout
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    by_type, count = {}, {}
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        md = plane.event_metadata
        for line in plane.lines:
            # Executor threads hold one event per kernel: "scope/op_name:OpType".
            for ev in line.events:
                name = md[ev.metadata_id].name
                if ":" not in name or name.startswith("{") or "::" in name:
                    continue
                op_type = name.rsplit(":", 1)[1]
                # oneDNN kernels are named _Mkl*, e.g. _MklNativeFusedConv2D, _MklSwish.
                if not op_type or not (op_type[0].isupper() or op_type.startswith("_")) or " " in op_type:
                    continue
                by_type[op_type] = by_type.get(op_type, 0) + ev.duration_ps / 1e9
                count[op_type] = count.get(op_type, 0) + 1
    total = sum(by_type.values())
    rows = sorted(by_type.items(), key=lambda kv: -kv[1])
    return {
        "op_ms_per_step_total": total / steps,
        "ops_per_step": sum(count.values()) / steps,
        "by_op_type": [
            {"op": k, "ms_per_step": v / steps, "calls_per_step": count[k] / steps, "share": v / total if total else 0}
            for k, v in rows
        ],
    }


if __name__ == "__main__":
    main()
