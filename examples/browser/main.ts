/**
 * NeuroStageNet browser page: the user picks a PNG/JPEG brain MRI slice; the page decodes it to grayscale
 * the model's input size with the library's decoder, runs the model on webgl (or wasm, or cpu), and shows the four stage
 * probabilities, the predicted stage and a Grad-CAM overlay. Or the user picks a whole scan (NIfTI .nii / .nii.gz, a
 * DICOM file): the page reads it with readVolume, cuts its axial slices as the training slices were cut, and shows one
 * stage for the person (or the input check's refusal) and a montage of the slices with their maps (explainVolume).
 * Everything runs in the page: nothing is uploaded.
 *
 * Built by `npm run build:browser` (examples/browser/build.ts) into examples/browser/dist/, which holds this
 * bundle, index.html, style.css, tfjs' .wasm binaries and the model in ./model/.
 *
 * URL parameters (all optional):
 *   ?model=<url of model.json>   default ./model/model.json (a metadata.json beside it is read if present)
 *   ?backend=wasm                backends to try, in order, comma-separated (webgl, wasm, cpu). Default:
 *                                webgl, wasm, cpu, the first that works, skipping webgl on a software renderer
 *   ?threads=N                   wasm threads when the page is served cross-origin isolated (COOP/COEP headers).
 *                                Default: navigator.hardwareConcurrency (at most 8); 1 when not isolated
 *
 * The page reports its progress in `document.body.dataset.state` ('loading' | 'ready' | 'running' | 'done' |
 * 'error'), which the end-to-end test (test/browser/page.test.ts) waits on.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
// Backends register themselves on import; the page picks one at run time (see chooseBackend).
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
// The package's browser-safe entries (in this repository they resolve to the sources through tsconfig.json's
// "paths"). Importing the root also registers its custom layers, which tfl.loadLayersModel needs to rebuild NeuroStageNet.
import { GradCAM, allowWasmThreads, checkInputs, describeModel, explainVolume, optimizeForInference, overlayHeatmap, volumeMontage, type Explanation, type ModelMetadata, type PretrainedNeuroStageNet } from 'neurostagenet';
import { decodeImage, headFootprint, isNiftiBytes, readImageHeader, readVolume, sliceLevelWarning } from 'neurostagenet/data';
import { grayToRgba } from 'neurostagenet/explain';
import { registerWasmGradientKernels } from 'neurostagenet/kernels';

/** Backends tried in order when the URL does not name one: GPU first, then WebAssembly, then plain JS. */
const BACKEND_ORDER = ['webgl', 'wasm', 'cpu'] as const;

// The build copies tfjs-backend-wasm's .wasm files next to this bundle; wasm must be told where they are
// before it initialises.
setWasmPaths(new URL('./', import.meta.url).href);

/** What the page uses of the model's metadata (resolved by `describeModel`; trainingFootprint drives the level caution). */
type PageMetadata = Pick<PretrainedNeuroStageNet, 'classNames' | 'ordinalOrder' | 'temperature' | 'trainingFootprint' | 'inputCheck'>;

/** Everything the page needs after start-up. */
interface Loaded {
  model: tfl.LayersModel;
  cam: GradCAM;
  meta: PageMetadata;
  /** The model with its metadata, as the library's volume functions take it. */
  net: PretrainedNeuroStageNet;
  height: number;
  width: number;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (el == null) throw new Error(`index.html has no element #${id}`);
  return el as T;
};

function setState(state: 'loading' | 'ready' | 'running' | 'done' | 'error', message: string): void {
  document.body.dataset.state = state;
  $('status').textContent = message;
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
}

/**
 * The renderer's name when WebGL runs in software (SwiftShader, llvmpipe: e.g. no GPU, or Chromium with
 * --disable-gpu), else null. tfjs on software WebGL is far slower than wasm (measured in headless Chromium on
 * 2 cores: ~12 s vs ~0.7 s for the first image), so automatic selection skips it.
 */
function softwareWebglRenderer(): string | null {
  const canvas = document.createElement('canvas');
  const gl = canvas.getContext('webgl2') ?? canvas.getContext('webgl');
  if (gl == null) return null; // no WebGL at all: tfjs reports that itself
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(info != null ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return /swiftshader|llvmpipe|softpipe|software/i.test(renderer) ? renderer : null;
}

/**
 * Activates the first backend of `order` that initialises and runs one op (webgl can initialise on a
 * blocklisted GPU and fail at the first real kernel). With `auto`, webgl on a software renderer is skipped.
 * Returns its name and why earlier ones were skipped; throws listing every failure.
 */
async function chooseBackend(order: readonly string[], auto: boolean, wasmThreads: number): Promise<{ name: string; skipped: string[] }> {
  const skipped: string[] = [];
  for (const name of order) {
    try {
      if (auto && name === 'webgl') {
        const software = softwareWebglRenderer();
        if (software != null) {
          skipped.push(`webgl: software renderer, slower than wasm`);
          console.info(`webgl skipped: software renderer ${software}`);
          continue;
        }
      }
      // tfjs-backend-wasm 4.22 caps its threads at hardwareConcurrency / 2 (one on 2 cores): allowWasmThreads lifts
      // the cap for the initialisation, when the thread count is fixed
      const restore = name === 'wasm' ? allowWasmThreads(wasmThreads) : () => {};
      if (name === 'wasm') setThreadsCount(wasmThreads);
      try {
        if (!(await tf.setBackend(name))) {
          skipped.push(`${name}: failed to initialise`);
          continue;
        }
        await tf.ready();
      } finally {
        restore();
      }
      const probe = tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)));
      const value = (await probe.data())[0];
      probe.dispose();
      if (value !== 3) throw new Error(`computed 1 + 2 = ${value}`);
      // GradCAM differentiates the head; the library adds the gradient kernels tfjs-backend-wasm lacks.
      if (name === 'wasm') registerWasmGradientKernels();
      return { name, skipped };
    } catch (e) {
      skipped.push(`${name}: ${describeError(e)}`);
    }
  }
  throw new Error(`no usable tfjs backend (${skipped.join('; ')})`);
}

/**
 * Reads metadata.json next to model.json (absent means the Alzheimer dataset's defaults) and checks it against the
 * model with the library's own rules (`describeModel`, as `loadPretrainedNeuroStageNet` does in Node).
 */
async function loadMetadata(model: tfl.LayersModel, modelUrl: string): Promise<PretrainedNeuroStageNet> {
  let raw: ModelMetadata = {};
  const url = new URL('metadata.json', modelUrl).href;
  const res = await fetch(url).catch(() => null);
  if (res?.ok) {
    try {
      raw = (await res.json()) as ModelMetadata;
    } catch (e) {
      throw new Error(`${url} is not valid JSON: ${describeError(e)}`);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${url} must hold a JSON object`);
  }
  return describeModel(model, raw, res?.ok ? url : modelUrl);
}

async function loadEverything(): Promise<Loaded> {
  const params = new URLSearchParams(location.search);
  const requested = params.get('backend')?.split(',').map((b) => b.trim()).filter((b) => b !== '');
  const auto = requested == null || requested.length === 0;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const threadsParam = Number(params.get('threads') ?? (isolated ? Math.min(navigator.hardwareConcurrency || 1, 8) : 1));
  const wasmThreads = Number.isInteger(threadsParam) && threadsParam >= 1 ? threadsParam : 1;
  const backend = await chooseBackend(auto ? BACKEND_ORDER : requested, auto, wasmThreads);
  // wasm runs threads only in a cross-origin-isolated page (SharedArrayBuffer)
  $('backend').textContent = backend.name === 'wasm' ? `wasm (${getThreadsCount()} thread${getThreadsCount() === 1 ? '' : 's'})` : backend.name;
  $('backend').title = backend.skipped.join('\n');
  $('backend-skipped').textContent = backend.skipped.length > 0 ? `(skipped: ${backend.skipped.join('; ')})` : '';

  const modelUrl = new URL(params.get('model') ?? './model/model.json', location.href).href;
  $('model-url').textContent = modelUrl;
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(modelUrl);
  } catch (e) {
    throw new Error(`cannot load the model from ${modelUrl}: ${describeError(e)}`);
  }
  const [, height, width, channels] = model.inputs[0].shape;
  const numClasses = model.outputs[0].shape[1];
  if (typeof height !== 'number' || typeof width !== 'number' || channels !== 1 || typeof numClasses !== 'number') {
    throw new Error(`${modelUrl} is not a grayscale image classifier: input [${model.inputs[0].shape.join(', ')}], output [${model.outputs[0].shape.join(', ')}]`);
  }
  // The page only infers: run the inference copy (batch normalizations folded into the convolutions before them).
  const optimized = await optimizeForInference(model);
  model.dispose();
  model = optimized.model;
  const net = await loadMetadata(model, modelUrl);
  const { classNames, ordinalOrder, temperature, trainingFootprint, inputCheck } = net;
  const meta: PageMetadata = { classNames, ordinalOrder, temperature, trainingFootprint, inputCheck };
  const cam = new GradCAM(model);
  $('cam-layer').textContent = cam.layerName;
  $('cam-method').textContent = { gradcam: 'Grad-CAM', 'gradcam++': 'Grad-CAM++', hirescam: 'HiResCAM', layercam: 'LayerCAM' }[cam.method] ?? cam.method;
  $('cam-grid').textContent = `${cam.featureShape[0]}\u00d7${cam.featureShape[1]}`;
  // Say the size the model takes (the shipped one may not be 128x128).
  document.querySelectorAll('.input-size').forEach((el) => { el.textContent = `${width}\u00d7${height}`; });
  return { model, cam, meta, net, height, width };
}

/**
 * Decodes PNG/JPEG bytes to grayscale 0..255 at the model's input size with the library's decodeImage, the same
 * pure-JS decoder as in Node (so the page sees the pixels the CLI sees).
 */
async function decodeToGray(bytes: Uint8Array, height: number, width: number): Promise<Float32Array> {
  readImageHeader(bytes); // clear errors for GIF, WebP, DICOM, corrupt files, ... before any decoding
  return (await decodeImage(bytes, { targetSize: [height, width] })).pixels;
}

function drawRgba(canvasId: string, rgba: Uint8ClampedArray, width: number, height: number): void {
  const canvas = $<HTMLCanvasElement>(canvasId);
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (ctx == null) throw new Error('this browser has no 2-D canvas');
  ctx.putImageData(new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, width, height), 0, 0);
}

/** softmax(logits / T): temperature-calibrated probabilities (T = 1 gives the model's own output). */
function calibratedProbabilities(e: Explanation, temperature: number): number[] {
  if (temperature === 1) return Array.from(e.probabilities);
  const z = Array.from(e.logits, (v) => v / temperature);
  const max = Math.max(...z);
  const exp = z.map((v) => Math.exp(v - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp.map((v) => v / sum);
}

const displayName = (className: string): string => className.replace(/_/g, ' ');

function showResult(e: Explanation, probabilities: number[], meta: PageMetadata): void {
  const predicted = probabilities.indexOf(Math.max(...probabilities));
  const strong = $('predicted');
  strong.textContent = displayName(meta.classNames[predicted]);
  strong.dataset.classIndex = String(predicted);
  strong.dataset.className = meta.classNames[predicted];

  const tbody = $<HTMLTableElement>('probabilities').tBodies[0];
  tbody.replaceChildren();
  for (const c of meta.ordinalOrder) {
    const p = probabilities[c];
    const row = tbody.insertRow();
    row.dataset.classIndex = String(c);
    row.dataset.className = meta.classNames[c];
    row.dataset.probability = String(p);
    if (c === predicted) row.classList.add('predicted');
    const stage = row.insertCell();
    stage.className = 'stage';
    stage.textContent = displayName(meta.classNames[c]);
    const value = row.insertCell();
    value.className = 'probability';
    value.textContent = `${(100 * p).toFixed(1)} %`;
    const bar = row.insertCell();
    bar.className = 'bar';
    const track = document.createElement('div');
    track.className = 'bar-track';
    const fill = document.createElement('div');
    fill.className = 'bar-fill';
    fill.style.width = `${(100 * p).toFixed(2)}%`;
    track.append(fill);
    bar.append(track);
  }
  $('calibration').textContent = meta.temperature === 1
    ? 'Probabilities are the model\'s softmax output (no calibration temperature in the model\'s metadata).'
    : `Probabilities are temperature-calibrated (T = ${meta.temperature.toFixed(3)}).`;
  if (e.status !== 'ok') {
    $('calibration').textContent += e.status === 'flat'
      ? ' Grad-CAM: the map is flat for this image (no region stands out), so no colour is drawn.'
      : ' Grad-CAM: the gradients were not finite, so no map is drawn.';
  }
}

const sentence = (s: string): string => (s === '' ? '' : `${s[0].toUpperCase()}${s.slice(1)}.`);

/** Whether picked bytes are a scan (NIfTI, gzipped NIfTI, DICOM) rather than a PNG/JPEG slice. */
function isScan(name: string, bytes: Uint8Array): boolean {
  const dicom = bytes.length > 132 && String.fromCharCode(...bytes.subarray(128, 132)) === 'DICM';
  return /\.(nii|nii\.gz|dcm)$/i.test(name) || dicom || isNiftiBytes(bytes);
}

/**
 * A whole scan: readVolume, then explainVolume (slices cut as the training slices were, the input check on each, the
 * model and a map on the accepted ones, one stage for the person or a refusal), shown as a line and a montage.
 */
async function explainScan(loaded: Loaded, file: File, bytes: Uint8Array): Promise<void> {
  const { net, meta } = loaded;
  const t0 = performance.now();
  // As stored (its orientation is shown); the slicing reorients it to RAS itself.
  const volume = await readVolume(bytes, { name: file.name, canonical: false });
  $('volume-name').textContent = file.name;
  $('volume-geometry').textContent = `${volume.format}, ${volume.dims.join('\u00d7')} voxels of ${volume.spacing.map((v) => v.toFixed(2)).join('\u00d7')} mm, stored ${volume.orientation}, ${volume.datatype}`;
  setState('running', `Slicing ${file.name} and running the input check, the model and the maps\u2026`);
  const allow = $<HTMLInputElement>('allow-unchecked').checked;
  const result = await explainVolume(net, volume, { allowUnchecked: allow });
  const { person, slices } = result.prediction;
  const accepted = slices.filter((s) => s.accepted).length;
  document.body.dataset.person = person.refused ? 'refused' : 'stage';
  document.body.dataset.inputCheck = result.prediction.inputCheck === 'allowed' ? 'allowed' : accepted === slices.length ? 'accepted' : person.refused ? 'refused' : 'partly';
  document.body.dataset.slicesAccepted = String(accepted);
  $('volume-refusal').hidden = !person.refused;
  $('volume-refusal-reason').textContent = person.refused ? `${person.reason}.` : '';
  const forced = !person.refused && result.prediction.inputCheck === 'allowed' && accepted < slices.length;
  $('volume-forced').hidden = !forced;
  $('volume-forced-detail').textContent = forced ? `the input check accepts ${accepted} of the ${slices.length} slices.` : '';
  $('volume-stage-block').hidden = person.refused;
  if (!person.refused) {
    $('volume-stage').textContent = displayName(person.stage);
    $('volume-stage').dataset.className = person.stage;
    $('volume-stage-detail').textContent = `(p = ${person.probabilities[person.classIndex].toFixed(2)}, the mean of ${person.slicesUsed} of ${slices.length} slices)`;
    $('volume-probabilities').textContent = meta.ordinalOrder.map((c) => `${displayName(meta.classNames[c])} ${(100 * person.probabilities[c]).toFixed(1)} %`).join(' \u00b7 ');
  }
  const montage = volumeMontage(result, { columns: 8 });
  drawRgba('montage-canvas', montage.image.data, montage.image.width, montage.image.height);
  const mapped = result.slices.filter((s) => s.explanation).length;
  $('montage-caption').textContent = `${slices.length} axial slices from the bottom of the head up (left to right, then down), each as the model saw it: ` +
    (mapped > 0 ? `${result.method} maps of ${person.refused ? "each slice's own prediction" : 'the person\'s stage'} on the ${mapped} classified slices` : 'no map') +
    (mapped < slices.length ? `; the ${slices.length - mapped} refused slices are dimmed.` : '.') + ` ${sentence(result.prediction.notes[1] ?? '')}`;
  $('result').hidden = true;
  $('volume-result').hidden = false;
  $('timing').textContent = `\u00b7 scan ${Math.round(performance.now() - t0)} ms`;
  document.body.dataset.numTensors = String(tf.memory().numTensors);
}

async function explainFile(loaded: Loaded, file: File): Promise<void> {
  const { cam, meta, height, width } = loaded;
  const t0 = performance.now();
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (isScan(file.name, bytes)) return explainScan(loaded, file, bytes);
  delete document.body.dataset.person;
  $('volume-result').hidden = true;
  const gray = await decodeToGray(bytes, height, width);
  drawRgba('input-canvas', grayToRgba(gray, width, height).data, width, height);
  const t1 = performance.now();
  setState('running', 'Running the model and Grad-CAM\u2026');
  const x = tf.tensor4d(gray, [1, height, width, 1]);
  let e: Explanation;
  try {
    // The input check first: an image unlike the training slices gets no stage unless the user asks for one.
    const allow = $<HTMLInputElement>('allow-unchecked').checked;
    const verdict = meta.inputCheck ? (await checkInputs({ model: loaded.model, inputCheck: meta.inputCheck }, x))[0] : undefined;
    document.body.dataset.inputCheck = verdict === undefined ? 'unchecked' : verdict.accepted ? 'accepted' : allow ? 'allowed' : 'refused';
    $('refusal').hidden = verdict === undefined || verdict.accepted;
    $('refusal-reason').textContent = verdict && !verdict.accepted ? verdict.reason ?? '' : '';
    $('refusal-forced').hidden = !(verdict && !verdict.accepted && allow);
    $('unchecked').hidden = verdict !== undefined;
    $('file-name').textContent = file.name;
    if (verdict && !verdict.accepted && !allow) {
      $('result').hidden = false;
      $('classified').hidden = true;
      $('timing').textContent = `\u00b7 decode ${Math.round(t1 - t0)} ms, input check ${Math.round(performance.now() - t1)} ms`;
      document.body.dataset.numTensors = String(tf.memory().numTensors);
      return;
    }
    $('classified').hidden = false;
    [e] = await cam.explain(x, { classIndex: 'predicted' });
  } finally {
    x.dispose();
  }
  const t2 = performance.now();
  drawRgba('overlay-canvas', overlayHeatmap(gray, e.heatmap, { colormap: 'jet', alpha: 0.45 }), width, height);
  const probabilities = calibratedProbabilities(e, meta.temperature);
  showResult(e, probabilities, meta);
  // The overlay's own label: the stage it explains and its probability (the true stage is not known here).
  $('overlay-label').textContent = `predicted ${displayName(meta.classNames[e.classIndex])} (p = ${probabilities[e.classIndex].toFixed(2)})` +
    (e.status === 'flat' ? ' \u00b7 map flat' : '');
  // A slice of another axial level than the training slices: the model's figures were not measured there.
  const levelWarning = meta.trainingFootprint && sliceLevelWarning([headFootprint(gray, height, width)], meta.trainingFootprint);
  $('level-warning').textContent = levelWarning ? `Caution: ${levelWarning}.` : '';
  $('level-warning').hidden = !levelWarning;
  $('timing').textContent = `\u00b7 decode ${Math.round(t1 - t0)} ms, model + Grad-CAM ${Math.round(t2 - t1)} ms`;
  $('result').hidden = false;
  document.body.dataset.numTensors = String(tf.memory().numTensors);
}

async function start(): Promise<void> {
  const input = $<HTMLInputElement>('file');
  let loaded: Loaded;
  try {
    loaded = await loadEverything();
  } catch (e) {
    console.error(e);
    setState('error', `Could not start: ${describeError(e)}`);
    return;
  }
  document.body.dataset.numTensors = String(tf.memory().numTensors);
  input.disabled = false;
  setState('ready', 'Ready: choose an image.');
  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    if (file == null) return;
    input.disabled = true;
    setState('running', `Decoding ${file.name}\u2026`);
    try {
      await explainFile(loaded, file);
      setState('done', `Done: ${file.name}.`);
    } catch (e) {
      console.error(e);
      $('result').hidden = true;
      $('volume-result').hidden = true;
      setState('error', `Could not explain ${file.name}: ${describeError(e)}`);
    } finally {
      input.disabled = false;
      input.value = ''; // picking the same file again fires 'change' again
    }
  });
}

void start();
