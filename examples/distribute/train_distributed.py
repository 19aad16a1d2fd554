"""Train NeuroStageNet under tf.distribute, from weights the SDK wrote to weights the SDK loads.

The model is the Keras reference NeuroStageNet (``neurostagenet_keras.py``: same architecture, layer names and
order as the SDK's, preprocessing inside the model: raw 0..255 grayscale in, Rescaling + Normalization inside the
EfficientNetB0 backbone). The run:

1. picks a strategy: ``--strategy mirrored`` (tf.distribute.MirroredStrategy: every local GPU, or the CPU as one
   replica) or ``--strategy multiworker`` (tf.distribute.MultiWorkerMirroredStrategy: the cluster in TF_CONFIG;
   every worker runs this same command);
2. builds the model inside ``strategy.scope()`` and loads ``--weights-in`` (written by the SDK's
   ``saveKerasWeights``: ``.weights.h5``, Keras 3 layout, or legacy ``.h5``);
3. sets up training as the SDK does it: Adam(5e-4, beta1 0.9, beta2 0.999, epsilon 1e-7), categorical cross-entropy with
   label smoothing 0.15 on the softmax output plus the head's L2, optional class weights (``--class-weight``), in
   a custom step run by ``strategy.run`` (gradients all-reduced across replicas and workers);
4. trains ``--steps`` steps on the Parquet file (``image.bytes`` JPEG/PNG, ``label`` int) through a tf.data
   pipeline: each worker reads its own shard of the rows, decodes, resizes to the model's input size (bilinear,
   half-pixel centres, no antialiasing: what the SDK does), shuffles, batches ``--batch-size`` per replica
   (global batch = per-replica batch x replicas in sync);
5. saves ``--weights-out`` (``.weights.h5``) with Keras' own ``save_weights``: the SDK reads it with
   ``loadKerasWeights``. Under MultiWorkerMirroredStrategy every worker saves (it must), only the chief to the
   real path;
6. optionally (``--predict-parquet``, ``--predict-rows``, ``--predict-out``) writes Keras' probabilities on given
   rows, before and after training, as JSON, to compare with the SDK's predictions on the same rows.

Examples:

    # one host, all its GPUs (or the CPU as one replica)
    python train_distributed.py --strategy mirrored --weights-in sdk.weights.h5 --weights-out trained.weights.h5 \\
        --train train.parquet --steps 1000 --batch-size 32

    # several hosts: the same command on each, TF_CONFIG says who is who
    TF_CONFIG='{"cluster":{"worker":["host0:12345","host1:12345"]},"task":{"type":"worker","index":0}}' \\
    python train_distributed.py --strategy multiworker ...

Requires TensorFlow 2.x with Keras 3 (checked: TensorFlow 2.21.0, Keras 3.15.1), h5py, pyarrow, numpy.
"""
import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import tensorflow as tf  # noqa: E402

CLASS_NAMES = ["Mild_Demented", "Moderate_Demented", "Non_Demented", "Very_Mild_Demented"]  # label 0..3
DEFAULT_BUILDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "golden", "neurostagenet_keras.py")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--strategy", choices=["mirrored", "multiworker"], default="mirrored",
                   help="mirrored: MirroredStrategy on this host; multiworker: MultiWorkerMirroredStrategy from TF_CONFIG")
    p.add_argument("--weights-in", required=True, help="SDK-written weights (.weights.h5 or legacy .h5)")
    p.add_argument("--weights-out", required=True, help="where to save the trained weights (.weights.h5)")
    p.add_argument("--train", required=True, help="training Parquet file (image.bytes, label)")
    p.add_argument("--steps", type=int, default=100, help="training steps (global batches)")
    p.add_argument("--batch-size", type=int, default=32, help="images per replica per step")
    p.add_argument("--image-size", type=int, default=64, help="model input height = width (the shipped model: 64)")
    p.add_argument("--fine-tune", action="store_true",
                   help="freeze the backbone below layer 150 (the SDK's 'seed' recipe); default: all trainable ('scratch')")
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.15)
    p.add_argument("--class-weight", choices=["none", "balanced", "balanced-sqrt"], default="none",
                   help="per-class loss weights as the SDK computes them (the 'scratch' recipe uses balanced-sqrt)")
    p.add_argument("--flip", action="store_true", help="random left-right flips (the 'scratch' recipe's augmentation)")
    p.add_argument("--cpu-replicas", type=int, default=1,
                   help="mirrored without GPUs: split the CPU into this many replicas (to try the multi-replica path)")
    p.add_argument("--shuffle-buffer", type=int, default=4096)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--model-builder", default=os.environ.get("NEUROSTAGENET_KERAS_BUILDER", DEFAULT_BUILDER),
                   help="path of neurostagenet_keras.py (the reference Keras model)")
    p.add_argument("--predict-parquet", help="Parquet file whose rows Keras predicts, before and after training")
    p.add_argument("--predict-rows", default="0:32", help="rows to predict, start:end (file row numbers)")
    p.add_argument("--predict-out", help="JSON file for those predictions")
    p.add_argument("--dump-pixels", help="also write the decoded, resized prediction images here (raw float32)")
    return p.parse_args(argv)


def make_strategy(name, cpu_replicas=1):
    if name == "multiworker":
        # Reads TF_CONFIG; must be created before any other TensorFlow op runs.
        return tf.distribute.MultiWorkerMirroredStrategy()
    if cpu_replicas > 1:
        # To try several replicas without GPUs: the CPU split into logical devices, one replica each.
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
        return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(cpu_replicas)])
    return tf.distribute.MirroredStrategy()  # all local GPUs; the CPU as one replica when there is none


def is_chief():
    """The worker that writes the real files: task 'chief', or worker 0 when the cluster has no chief."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task", {})
    if not task:
        return True
    if task.get("type") == "chief":
        return True
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0 and "chief" not in config.get("cluster", {})


def load_builder(path):
    spec = importlib.util.spec_from_file_location("neurostagenet_keras", path)
    if spec is None or not os.path.exists(path):
        sys.exit(f"--model-builder: no file {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_parquet(path, rows=None):
    """Encoded images (bytes) and labels of a Parquet file like the SDK's: `image` struct with `bytes`, `label` int."""
    table = pq.read_table(path, columns=["image", "label"])
    if rows is not None:
        table = table.slice(rows[0], rows[1] - rows[0])
    images = table.column("image").combine_chunks().field("bytes").to_pylist()
    labels = np.asarray(table.column("label").to_pylist(), dtype=np.int32)
    return images, labels


def decode(image_bytes, size):
    """Encoded JPEG/PNG -> [size, size, 1] float32 in 0..255, as the SDK decodes and resizes."""
    is_jpeg = tf.strings.substr(image_bytes, 0, 2) == b"\xff\xd8"
    image = tf.cond(
        is_jpeg,
        # The accurate integer IDCT (libjpeg's ISLOW); TensorFlow's default is the fast one.
        lambda: tf.io.decode_jpeg(image_bytes, channels=1, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_png(image_bytes, channels=1),
    )
    image = tf.cast(image, tf.float32)
    image.set_shape([None, None, 1])
    # Bilinear, half-pixel centres, no antialiasing: the SDK's resizeBilinearGray (and tfjs resizeBilinear(x, s, false, true)).
    return tf.image.resize(image, [size, size], method="bilinear", antialias=False)


def class_weights(labels, mode, num_classes=4):
    """scikit-learn's 'balanced' n / (K * count) (absent class: 1), or its square root: the SDK's classWeight."""
    if mode == "none":
        return np.ones(num_classes, np.float32)
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    w = np.where(counts > 0, len(labels) / (num_classes * np.maximum(counts, 1)), 1.0)
    return (np.sqrt(w) if mode == "balanced-sqrt" else w).astype(np.float32)


def training_dataset(strategy, images, labels, args):
    """A distributed dataset: each input pipeline (worker) reads its shard of the rows, batches per replica."""
    weights = class_weights(labels, args.class_weight)
    global_batch = args.batch_size * strategy.num_replicas_in_sync

    def dataset_fn(ctx):
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)  # disjoint rows per worker
        ds = ds.shuffle(args.shuffle_buffer, seed=args.seed + ctx.input_pipeline_id, reshuffle_each_iteration=True).repeat()

        def example(image_bytes, label):
            x = decode(image_bytes, args.image_size)
            if args.flip:
                x = tf.image.random_flip_left_right(x)
            y = tf.one_hot(label, len(CLASS_NAMES))
            return x, y, tf.gather(weights, label)

        ds = ds.map(example, num_parallel_calls=tf.data.AUTOTUNE)
        return ds.batch(ctx.get_per_replica_batch_size(global_batch), drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    return strategy.distribute_datasets_from_function(dataset_fn), global_batch


def predict_rows(model, path, rows, size):
    """Keras' probabilities on rows [start, end) of a Parquet file (inference mode, called directly: no collectives)."""
    images, labels = read_parquet(path, rows)
    x = np.stack([decode(tf.constant(b), size).numpy() for b in images])
    probs = np.concatenate([np.asarray(model(x[i:i + 32], training=False)) for i in range(0, len(x), 32)])
    return x, labels, probs.astype(np.float64)


def main(argv=None):
    args = parse_args(argv)
    if not args.weights_out.endswith(".weights.h5"):
        sys.exit("--weights-out must end in .weights.h5 (Keras 3's save_weights requires it)")
    strategy = make_strategy(args.strategy, args.cpu_replicas)  # first: MultiWorkerMirroredStrategy must come before other ops
    nk = load_builder(args.model_builder)
    import keras

    keras.utils.set_random_seed(args.seed)
    chief = is_chief()
    log = print if chief else (lambda *a, **k: None)
    log(f"TensorFlow {tf.__version__}, Keras {keras.__version__}; strategy {type(strategy).__name__}, "
        f"{strategy.num_replicas_in_sync} replica(s) in sync: {list(strategy.extended.worker_devices)}")

    with strategy.scope():
        # The SDK model's freezing: built without backbone weights it is all trainable (fine_tune=False); after
        # applyFineTuneFreeze(getBackbone(model), 150) it is fine_tune=True.
        model = nk.build_neurostagenet(input_shape=(args.image_size, args.image_size, 1), fine_tune=args.fine_tune,
                                       compile_model=False)
        model.load_weights(args.weights_in)
        nk.finalize_normalization_layers(model)  # needed after a legacy .h5; harmless after .weights.h5
        # The SDK's compileNeuroStageNet: Adam(5e-4, 0.9, 0.999, 1e-7), cross-entropy with label smoothing on the
        # softmax output, one loss per example (weighted, then averaged over the global batch below).
        optimizer = keras.optimizers.Adam(learning_rate=args.learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
        loss_fn = keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing, reduction=None)
        optimizer.build(model.trainable_variables)  # its slots now, in the scope, not lazily inside a replica step
    log(f"loaded {args.weights_in}: {len(model.weights)} weights, {model.count_params():,} parameters "
        f"({sum(int(np.prod(w.shape)) for w in model.trainable_weights):,} trainable)")

    record = {}
    rows = tuple(int(v) for v in args.predict_rows.split(":"))
    if args.predict_parquet:
        pixels, labels, before = predict_rows(model, args.predict_parquet, rows, args.image_size)
        record.update(rows=list(range(*rows)), labels=labels.tolist(), before=before.tolist())
        if args.dump_pixels and chief:
            pixels.astype("<f4").tofile(args.dump_pixels)

    images, labels = read_parquet(args.train)
    dataset, global_batch = training_dataset(strategy, images, labels, args)
    log(f"training on {args.train}: {len(labels)} rows, per-replica batch {args.batch_size}, global batch "
        f"{global_batch}, {args.steps} steps, class weights {class_weights(labels, args.class_weight).round(4).tolist()}")

    # A custom step rather than model.fit: Keras 3's fit does not run under MultiWorkerMirroredStrategy
    # (keras-team/keras#20585), and one loop for both strategies means the one-host run tests the multi-host code.
    def replica_step(x, y, w):
        with tf.GradientTape() as tape:
            probs = model(x, training=True)  # training mode: dropout on, BN batch statistics, moving averages move
            # sum(loss * w) / global batch: the mean over the whole step, as the SDK's mean(perExample * w)
            loss = tf.nn.compute_average_loss(loss_fn(y, probs) * w, global_batch_size=global_batch)
            if model.losses:  # the head's L2 (1e-4 on head_dense2), counted once per step over all replicas
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))  # all-reduces the gradients (sum)
        correct = tf.reduce_sum(tf.cast(tf.argmax(probs, -1) == tf.argmax(y, -1), tf.float32))
        return loss, correct

    @tf.function
    def train_step(iterator):
        loss, correct = strategy.run(replica_step, args=next(iterator))
        return strategy.reduce("SUM", loss, axis=None), strategy.reduce("SUM", correct, axis=None) / global_batch

    start = time.time()
    iterator = iter(dataset)
    for step in range(1, args.steps + 1):
        loss, accuracy = train_step(iterator)
        log(f"step {step}/{args.steps}  loss {float(loss):.4f}  accuracy {float(accuracy):.4f}  ({time.time() - start:.1f} s)")

    # Every worker saves (variables may need all of them); only the chief writes the real path.
    out = args.weights_out if chief else os.path.join(tempfile.mkdtemp(), os.path.basename(args.weights_out))
    model.save_weights(out)
    if not chief:
        os.remove(out)
    if chief:
        log(f"saved {args.weights_out} ({os.path.getsize(args.weights_out):,} bytes) after {time.time() - start:.1f} s")

    if args.predict_parquet and chief:
        _, _, after = predict_rows(model, args.predict_parquet, rows, args.image_size)
        record.update(after=after.tolist(), versions={"tensorflow": tf.__version__, "keras": keras.__version__},
                      strategy=type(strategy).__name__, replicas=strategy.num_replicas_in_sync, steps=args.steps,
                      global_batch=global_batch)
        with open(args.predict_out or "keras-predictions.json", "w") as f:
            json.dump(record, f)
        log(f"Keras' probabilities on {args.predict_parquet} rows {rows[0]}..{rows[1] - 1}: {args.predict_out}")


if __name__ == "__main__":
    main()
