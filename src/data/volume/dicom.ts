/**
 * DICOM to {@link Volume}: classic single-slice files (one or a folder of them, a series) and enhanced multi-frame
 * files. Datasets are parsed by dicom-parser (cornerstonejs, MIT, no dependencies: implicit and explicit VR, little
 * and big endian, sequences such as the enhanced functional groups); the uncompressed pixel data is decoded here and
 * the geometry (the LPS patient space of DICOM turned into RAS, as nibabel and dcm2niix do) computed from the tags.
 *
 * No Node module is used: bytes are read anywhere (a browser too); readVolume reads paths and folders in Node.
 */
import * as dicomParserModule from 'dicom-parser';
import type { DataSet } from 'dicom-parser';
import { VolumeReadError } from './errors.js';
import { orientationCodes } from './nifti.js';
import type { IntensityScaling, Volume } from './volume.js';

// dicom-parser is a UMD (CommonJS) bundle: Node's ESM loader gives its exports as `default`, bundlers as the namespace.
const dicomParser: typeof dicomParserModule = (dicomParserModule as unknown as { default?: typeof dicomParserModule }).default ?? dicomParserModule;

/** One file of a DICOM series in memory (e.g. the files of a dropped folder in a browser). */
export interface DicomFileBytes {
  /** The file's name, for messages. */
  name: string;
  /** The file's bytes. */
  bytes: Uint8Array;
}

/** Where a DICOM volume came from: its series and how it was stored. */
export interface DicomSeriesInfo {
  /** SeriesInstanceUID (0020,000E). */
  uid: string;
  /** SeriesDescription (0008,103E), when present. */
  description?: string;
  /** Modality (0008,0060), e.g. `'MR'`, when present. */
  modality?: string;
  /** Transfer syntax UID of the (first) file, e.g. `'1.2.840.10008.1.2'` (implicit VR little endian). */
  transferSyntax: string;
  /** BitsStored (0028,0101) of the pixel values. */
  bitsStored: number;
  /** PhotometricInterpretation (0028,0004): `'MONOCHROME2'` (or `'MONOCHROME1'`, whose values are kept, not inverted). */
  photometric: string;
  /** Files of the series that were read. */
  files: number;
  /** True for an enhanced multi-frame file (its geometry from the functional group sequences). */
  enhanced: boolean;
}

/** Options of {@link readDicom}. */
export interface ReadDicomOptions {
  /** Which 3-D volume when the frames or files hold several (positions that repeat, e.g. a time series). Default 0. */
  frame?: number;
  /** SeriesInstanceUID to read when the files hold several series. */
  series?: string;
  /** Files not given to the reader that the caller skipped (e.g. hidden files of a folder), for `notes`. */
  skipped?: string[];
}

// Transfer syntaxes whose pixel data is stored as is.
const UNCOMPRESSED: Record<string, boolean> = {
  '1.2.840.10008.1.2': true, // implicit VR little endian
  '1.2.840.10008.1.2.1': false, // explicit VR little endian
  '1.2.840.10008.1.2.2': false, // explicit VR big endian (retired)
};
const SYNTAX_NAMES: Record<string, string> = {
  '1.2.840.10008.1.2.1.99': 'deflated explicit VR little endian',
  '1.2.840.10008.1.2.4.50': 'JPEG baseline',
  '1.2.840.10008.1.2.4.51': 'JPEG extended',
  '1.2.840.10008.1.2.4.57': 'JPEG lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG lossless, first-order prediction',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS near-lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.201': 'HTJ2K lossless',
  '1.2.840.10008.1.2.4.202': 'HTJ2K lossless RPCL',
  '1.2.840.10008.1.2.4.203': 'HTJ2K',
  '1.2.840.10008.1.2.5': 'RLE lossless',
};
const CONVERT_HINT = 'decompress it first (`gdcmconv --raw in.dcm out.dcm`, or DCMTK\'s `dcmdjpeg` / `dcmconv +te`) or convert the series to NIfTI with dcm2niix';

/** Whether bytes carry the DICOM Part 10 mark ('DICM' after the 128-byte preamble). */
export function isDicomBytes(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

// One 2-D frame: a classic file's image or one frame of a multi-frame file.
interface Slice {
  file: string;
  fileIndex: number;
  frameIndex: number;
  instance: number;
  position?: number[];
  orientation?: number[];
  pixelSpacing?: number[];
  thickness?: number;
  scaling: IntensityScaling;
  rows: number;
  cols: number;
  // Decodes the stored values into out (rows * cols), scaled.
  decode(out: Float32Array): void;
}

// One parsed file.
interface DicomFile {
  name: string;
  seriesUid: string;
  description?: string;
  modality?: string;
  transferSyntax: string;
  datatype: string;
  bitsStored: number;
  photometric: string;
  enhanced: boolean;
  slices: Slice[];
  notes: string[];
}

// Thrown for files a folder read skips (not DICOM, no pixel data) rather than refuses.
class SkippableDicomError extends VolumeReadError {
  constructor(
    reason: string,
    file: string,
    readonly kind: 'not DICOM' | 'no pixel data',
  ) {
    super(reason, file);
  }
}

const numbers = (ds: DataSet | undefined, tag: string): number[] | undefined => {
  if (!ds?.elements[tag]) return undefined;
  const n = ds.numStringValues(tag) ?? 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(ds.floatString(tag, i) as number);
  return out.length > 0 && out.every(Number.isFinite) ? out : undefined;
};
const number = (ds: DataSet | undefined, tag: string): number | undefined => {
  const v = ds?.elements[tag] ? ds.floatString(tag) : undefined;
  return v !== undefined && Number.isFinite(v) ? v : undefined;
};
const text = (ds: DataSet, tag: string): string | undefined => {
  const v = ds.elements[tag] ? ds.string(tag) : undefined;
  return v ? v.trim() : undefined;
};
// The first item's data set of a sequence element.
const item = (ds: DataSet | undefined, tag: string): DataSet | undefined => ds?.elements[tag]?.items?.[0]?.dataSet;

const cross = (a: number[], b: number[]): number[] => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const dot = (a: number[], b: number[]): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

function parseFile(bytes: Uint8Array, name: string, fileIndex: number): DicomFile {
  if (!isDicomBytes(bytes)) throw new SkippableDicomError('not a DICOM Part 10 file (no "DICM" mark at byte 128)', name, 'not DICOM');
  let meta: DataSet;
  try {
    meta = dicomParser.readPart10Header(bytes);
  } catch (e) {
    throw new VolumeReadError(`unreadable DICOM file meta header (${errorText(e)})`, name);
  }
  const transferSyntax = meta.string('x00020010')?.trim().replace(/\0/g, '') ?? '';
  if (!(transferSyntax in UNCOMPRESSED)) {
    const what = SYNTAX_NAMES[transferSyntax] ?? (transferSyntax ? 'not an uncompressed syntax' : 'missing');
    throw new VolumeReadError(
      `transfer syntax ${transferSyntax || '(none)'} (${what}): only uncompressed DICOM (1.2.840.10008.1.2, .1.2.1, .1.2.2) is read; ${CONVERT_HINT}`,
      name,
    );
  }
  let ds: DataSet;
  try {
    ds = dicomParser.parseDicom(bytes);
  } catch (e) {
    const partial = (e as { dataSet?: DataSet }).dataSet;
    const pixel = partial?.elements.x7fe00010;
    if (pixel) throw new VolumeReadError(`truncated: the pixel data element declares ${pixel.length} bytes but the file ends ${bytes.length - pixel.dataOffset} bytes after its start`, name);
    throw new VolumeReadError(`truncated or corrupt DICOM data set (${errorText(e)})`, name);
  }
  const pixel = ds.elements.x7fe00010;
  if (!pixel) {
    const reason = ds.elements.x7fe00008 || ds.elements.x7fe00009 ? 'float pixel data (7FE0,0008/0009) is not read' : 'no pixel data (7FE0,0010)';
    const sop = text(ds, 'x00080016') ?? text(meta, 'x00020002');
    const dicomdir = ds.elements.x00041220 !== undefined;
    throw new SkippableDicomError(`${reason}: not an image${dicomdir ? ' (a DICOMDIR)' : sop ? ` (SOP class ${sop}; e.g. a DICOMDIR, a structured report)` : ''}`, name, 'no pixel data');
  }
  if (pixel.encapsulatedPixelData) throw new VolumeReadError(`encapsulated (compressed) pixel data under transfer syntax ${transferSyntax}: ${CONVERT_HINT}`, name);
  const rows = ds.uint16('x00280010') ?? 0;
  const cols = ds.uint16('x00280011') ?? 0;
  const samples = ds.uint16('x00280002') ?? 1;
  const bitsAllocated = ds.uint16('x00280100') ?? 0;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const signed = (ds.uint16('x00280103') ?? 0) === 1;
  const photometric = text(ds, 'x00280004') ?? 'MONOCHROME2';
  if (rows === 0 || cols === 0) throw new VolumeReadError(`no image size (Rows ${rows}, Columns ${cols})`, name);
  if (samples !== 1 || !photometric.startsWith('MONOCHROME')) throw new VolumeReadError(`${photometric} with ${samples} samples per pixel: only grayscale (MONOCHROME1/2) images are read`, name);
  if (![8, 16, 32].includes(bitsAllocated)) throw new VolumeReadError(`BitsAllocated ${bitsAllocated}: only 8, 16 and 32 bits are read`, name);
  const frames = Math.max(1, ds.intString('x00280008') ?? 1);
  const size = bitsAllocated / 8;
  const frameBytes = rows * cols * size;
  const available = Math.min(pixel.length, ds.byteArray.length - pixel.dataOffset);
  if (available < frames * frameBytes) {
    throw new VolumeReadError(`truncated pixel data: ${frames > 1 ? `${frames} frames of ` : ''}${cols}x${rows} ${bitsAllocated}-bit pixels need ${frames * frameBytes} bytes, the file holds ${Math.max(0, available)}`, name);
  }
  const littleEndian = transferSyntax !== '1.2.840.10008.1.2.2';
  const view = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + pixel.dataOffset, frames * frameBytes);
  const datatype = `${signed ? 'int' : 'uint'}${bitsAllocated}`;
  const read: (i: number) => number = {
    uint8: (i: number) => view.getUint8(i),
    int8: (i: number) => view.getInt8(i),
    uint16: (i: number) => view.getUint16(2 * i, littleEndian),
    int16: (i: number) => view.getInt16(2 * i, littleEndian),
    uint32: (i: number) => view.getUint32(4 * i, littleEndian),
    int32: (i: number) => view.getInt32(4 * i, littleEndian),
  }[datatype] as (i: number) => number;
  // Bits above BitsStored carry nothing (or overlays): masked off, or the sign extended from the high bit stored.
  const unused = bitsStored < bitsAllocated && bitsStored > 0 ? 32 - bitsStored : 0;
  const mask = bitsStored >= 32 ? 0xffffffff : 2 ** bitsStored - 1;
  const stored: (i: number) => number = unused === 0 ? read : signed ? (i) => ((read(i) << unused) >> unused) : (i) => read(i) & mask;
  const decoder = (frame: number, scaling: IntensityScaling) => (out: Float32Array) => {
    const base = frame * rows * cols;
    const { slope, intercept } = scaling;
    for (let p = 0; p < rows * cols; p++) out[p] = stored(base + p) * slope + intercept;
  };
  const notes: string[] = [];
  const topScaling = { slope: number(ds, 'x00281053') ?? 1, intercept: number(ds, 'x00281052') ?? 0 };
  const instance = ds.intString('x00200013') ?? fileIndex;
  const perFrame = ds.elements.x52009230?.items;
  const shared = item(ds, 'x52009229');
  const slices: Slice[] = [];
  const enhanced = perFrame !== undefined || shared !== undefined;
  if (enhanced) {
    // Enhanced multi-frame: each frame's functional groups, else the shared ones, else the top level.
    for (let f = 0; f < frames; f++) {
      const groups = perFrame?.[f]?.dataSet;
      const find = (sequence: string, tag: string): number[] | undefined => numbers(item(groups, sequence), tag) ?? numbers(item(shared, sequence), tag);
      const scaleFrom = (tag: string) => find('x00289145', tag)?.[0];
      const scaling = { slope: scaleFrom('x00281053') ?? topScaling.slope, intercept: scaleFrom('x00281052') ?? topScaling.intercept };
      slices.push({
        file: name, fileIndex, frameIndex: f, instance: f, rows, cols, scaling,
        position: find('x00209113', 'x00200032') ?? numbers(ds, 'x00200032'),
        orientation: find('x00209116', 'x00200037') ?? numbers(ds, 'x00200037'),
        pixelSpacing: find('x00289110', 'x00280030') ?? numbers(ds, 'x00280030'),
        thickness: find('x00289110', 'x00180088')?.[0] ?? find('x00289110', 'x00180050')?.[0],
        decode: decoder(f, scaling),
      });
    }
  } else {
    const position = numbers(ds, 'x00200032');
    const orientation = numbers(ds, 'x00200037');
    const thickness = number(ds, 'x00180088') ?? number(ds, 'x00180050');
    if (frames > 1) notes.push(`${name}: a classic multi-frame file: frame positions taken as ImagePositionPatient + frame x ${thickness ?? 1} mm along the slice normal`);
    const normal = orientation?.length === 6 ? cross(orientation.slice(0, 3), orientation.slice(3)) : [0, 0, 1];
    for (let f = 0; f < frames; f++) {
      slices.push({
        file: name, fileIndex, frameIndex: f, instance: frames > 1 ? f : instance, rows, cols, scaling: topScaling,
        position: position && position.length === 3 ? position.map((v, a) => v + f * (thickness ?? 1) * normal[a]) : undefined,
        orientation, pixelSpacing: numbers(ds, 'x00280030') ?? numbers(ds, 'x00181164'), thickness,
        decode: decoder(f, topScaling),
      });
    }
  }
  return {
    name, transferSyntax, datatype, bitsStored, photometric, enhanced, slices, notes,
    seriesUid: text(ds, 'x0020000e') ?? '(no SeriesInstanceUID)',
    description: text(ds, 'x0008103e'),
    modality: text(ds, 'x00080060'),
  };
}

function errorText(e: unknown): string {
  const inner = (e as { exception?: unknown }).exception ?? e;
  return inner instanceof Error ? inner.message : String(inner);
}

const isValid = (v: number[] | undefined, n: number): v is number[] => v !== undefined && v.length >= n && v.slice(0, n).every(Number.isFinite);

/**
 * Reads DICOM files to one volume: a classic file (one slice), the files of a series (slices ordered by their
 * position along the slice normal) or an enhanced multi-frame file (its frames' positions from the functional
 * groups). Non-DICOM files and DICOM files without pixel data (a DICOMDIR, a report) among several are skipped and
 * counted in `notes`; several series need `series`.
 *
 * Geometry: voxel x = column, y = row, z = slice (so the pixel data's row-major order is x fastest); the affine's
 * columns are the row direction cosine x PixelSpacing[1], the column direction cosine x PixelSpacing[0], the slice
 * normal (row x column cosine) x the spacing between slice positions (a single slice: SpacingBetweenSlices, else
 * SliceThickness, else 1 mm), its origin the first slice's ImagePositionPatient; DICOM's LPS turned to RAS by
 * negating the x and y rows (as nibabel and dcm2niix do). Values are stored x RescaleSlope + RescaleIntercept, slice
 * by slice (`scaling` records the first slice's; a note says when slices differ). MONOCHROME1 values are kept as
 * stored (not inverted; a note says so).
 * @param files The files (name and bytes); order does not matter.
 * @param source Name for `Volume.source` and messages (the folder, or the file).
 * @param options `frame`, `series`, and files the caller skipped.
 * @returns The volume in its stored voxel order (see `toCanonical`).
 * @throws {@link VolumeReadError} naming the file or folder: compressed transfer syntax, no pixel data (a single
 *   file), truncated pixel data, no DICOM image among the files, several series and no `series`, slices that differ
 *   in size, orientation or pixel type, positions that repeat unevenly, a `frame` that does not exist.
 */
export function readDicom(files: readonly DicomFileBytes[], source: string, options: ReadDicomOptions = {}): Volume {
  const single = files.length === 1 && !options.skipped?.length;
  const parsed: DicomFile[] = [];
  const skipped: Array<{ name: string; kind: string }> = (options.skipped ?? []).map((name) => ({ name, kind: 'hidden or not a file' }));
  files.forEach(({ name, bytes }, i) => {
    try {
      parsed.push(parseFile(bytes, name, i));
    } catch (e) {
      if (single || !(e instanceof SkippableDicomError)) throw e;
      skipped.push({ name, kind: e.kind });
    }
  });
  if (parsed.length === 0) {
    const kinds = countBy(skipped.map((s) => s.kind));
    throw new VolumeReadError(
      files.length === 0 && skipped.length === 0
        ? 'no files: the folder is empty (a DICOM series folder holds the series\' .dcm files)'
        : `no DICOM image files among ${skipped.length} file(s) (${kinds}: e.g. ${skipped.slice(0, 3).map((s) => s.name.replace(/^.*[\\/]/, '')).join(', ')})`,
      source,
    );
  }
  const bySeries = new Map<string, DicomFile[]>();
  for (const f of parsed) bySeries.set(f.seriesUid, [...(bySeries.get(f.seriesUid) ?? []), f]);
  const listing = () => [...bySeries.entries()].map(([uid, fs]) => `${uid} '${fs[0].description ?? ''}' (${fs[0].modality ?? '?'}, ${fs.length} file${fs.length > 1 ? 's' : ''})`).join('; ');
  let chosen: DicomFile[];
  if (options.series !== undefined) {
    const found = bySeries.get(options.series);
    if (!found) throw new VolumeReadError(`no DICOM series ${options.series} here; the series are: ${listing()}`, source);
    chosen = found;
  } else if (bySeries.size > 1) {
    throw new VolumeReadError(`${bySeries.size} DICOM series: pass the SeriesInstanceUID of the one to read as \`series\` (CLI: --series UID): ${listing()}`, source);
  } else {
    chosen = parsed;
  }
  const notes: string[] = chosen.flatMap((f) => f.notes);
  if (skipped.length > 0) notes.push(`skipped ${skipped.length} of ${files.length + (options.skipped?.length ?? 0)} file(s): ${countBy(skipped.map((s) => s.kind))} (${skipped.slice(0, 5).map((s) => s.name.replace(/^.*[\\/]/, '')).join(', ')}${skipped.length > 5 ? ', ...' : ''})`);
  const others = parsed.length - chosen.length;
  if (others > 0) notes.push(`read series ${options.series}: ${others} file(s) of other series left out`);
  return assemble(chosen, source, options.frame ?? 0, notes);
}

function countBy(kinds: string[]): string {
  const counts = new Map<string, number>();
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts.entries()].map(([k, n]) => `${n} ${k}`).join(', ');
}

function assemble(files: DicomFile[], source: string, frame: number, notes: string[]): Volume {
  const first = files[0];
  for (const f of files) {
    if (f.datatype !== first.datatype) throw new VolumeReadError(`inconsistent slices: ${first.name} holds ${first.datatype} pixels, ${f.name} ${f.datatype}`, source);
  }
  // File order (InstanceNumber, then name), frame order within a file: the order repeats of a position are counted in.
  const slices = files.flatMap((f) => f.slices).sort((a, b) => a.instance - b.instance || a.file.localeCompare(b.file) || a.frameIndex - b.frameIndex);
  const s0 = slices[0];
  const { rows, cols } = s0;
  let orientation = s0.orientation;
  let origin0 = s0.position;
  const pixelSpacing = isValid(s0.pixelSpacing, 2) ? s0.pixelSpacing : undefined;
  if (!pixelSpacing) notes.push('no PixelSpacing: 1 mm assumed');
  for (const s of slices) {
    if (s.rows !== rows || s.cols !== cols) throw new VolumeReadError(`inconsistent slices: ${s0.file} is ${cols}x${rows}, ${s.file}${s.frameIndex ? ` frame ${s.frameIndex + 1}` : ''} ${s.cols}x${s.rows}`, source);
    if (isValid(orientation, 6) && isValid(s.orientation, 6) && s.orientation.some((v, i) => Math.abs(v - (orientation as number[])[i]) > 1e-4)) {
      throw new VolumeReadError(`inconsistent slices: ImageOrientationPatient of ${s0.file} is ${orientation.join('\\')}, of ${s.file}${s.frameIndex ? ` frame ${s.frameIndex + 1}` : ''} ${s.orientation.join('\\')} (one volume needs one orientation)`, source);
    }
    if (pixelSpacing && isValid(s.pixelSpacing, 2) && s.pixelSpacing.some((v, i) => Math.abs(v - pixelSpacing[i]) > 1e-4)) {
      throw new VolumeReadError(`inconsistent slices: PixelSpacing of ${s0.file} is ${pixelSpacing.join('\\')}, of ${s.file} ${s.pixelSpacing.join('\\')}`, source);
    }
  }
  if (!isValid(orientation, 6) || slices.some((s) => !isValid(s.position, 3))) {
    if (slices.length > 1) throw new VolumeReadError(`inconsistent slices: ${slices.find((s) => !isValid(s.position, 3) || !isValid(s.orientation, 6))?.file ?? s0.file} has no ImagePositionPatient / ImageOrientationPatient, so the slices cannot be ordered`, source);
    notes.push('no ImagePositionPatient / ImageOrientationPatient: an axial slice at the origin assumed');
    orientation = isValid(orientation, 6) ? orientation : [1, 0, 0, 0, 1, 0];
    origin0 = isValid(origin0, 3) ? origin0 : [0, 0, 0];
    s0.position = origin0;
  }
  const rowCos = (orientation as number[]).slice(0, 3);
  const colCos = (orientation as number[]).slice(3, 6);
  const normal = cross(rowCos, colCos);
  // Volumes: the n-th occurrence of a position belongs to volume n.
  const seen = new Map<string, number>();
  const occurrence = slices.map((s) => {
    const key = (s.position as number[]).map((v) => v.toFixed(2)).join(',');
    const n = seen.get(key) ?? 0;
    seen.set(key, n + 1);
    return n;
  });
  const counts = [...seen.values()];
  const volumes = Math.max(...counts);
  if (counts.some((c) => c !== volumes)) {
    throw new VolumeReadError(`inconsistent slices: ${seen.size} slice positions repeat unevenly (${Math.min(...counts)} to ${volumes} times each), so they do not make whole volumes`, source);
  }
  if (!Number.isInteger(frame) || frame < 0 || frame >= volumes) throw new VolumeReadError(`frame ${frame} does not exist: the DICOM data holds ${volumes} volume(s)`, source);
  const picked = slices.filter((_, i) => occurrence[i] === frame).map((s) => ({ s, along: dot(s.position as number[], normal) }));
  picked.sort((a, b) => a.along - b.along);
  const n = picked.length;
  let sliceSpacing: number;
  if (n > 1) {
    const steps = picked.slice(1).map((p, i) => p.along - picked[i].along);
    sliceSpacing = (picked[n - 1].along - picked[0].along) / (n - 1);
    const [lo, hi] = [Math.min(...steps), Math.max(...steps)];
    if (hi - lo > 0.01 * sliceSpacing + 1e-3) notes.push(`slices are unevenly spaced (${lo.toFixed(3)} to ${hi.toFixed(3)} mm apart): the affine uses the mean, ${sliceSpacing.toFixed(3)} mm`);
  } else {
    sliceSpacing = picked[0].s.thickness && picked[0].s.thickness > 0 ? picked[0].s.thickness : 1;
    if (!picked[0].s.thickness) notes.push('one slice without SpacingBetweenSlices or SliceThickness: 1 mm assumed');
  }
  const [rowSpacing, colSpacing] = pixelSpacing ?? [1, 1];
  const origin = picked[0].s.position as number[];
  // LPS affine, then RAS: negate the x and y rows.
  const lps = [0, 1, 2].map((a) => [rowCos[a] * colSpacing, colCos[a] * rowSpacing, normal[a] * sliceSpacing, origin[a]]);
  const affine = [...lps.map((row, a) => (a < 2 ? row.map((v) => -v) : row)), [0, 0, 0, 1]].map((row) => row.map((v) => v + 0)); // + 0: no -0
  const plane = rows * cols;
  const voxels = new Float32Array(plane * n);
  picked.forEach(({ s }, k) => s.decode(voxels.subarray(k * plane, (k + 1) * plane)));
  const scaling = picked[0].s.scaling;
  if (picked.some(({ s }) => s.scaling.slope !== scaling.slope || s.scaling.intercept !== scaling.intercept)) {
    notes.push(`RescaleSlope / RescaleIntercept differ between slices: each slice scaled by its own; scaling records the first slice's (${scaling.slope}, ${scaling.intercept})`);
  }
  if (first.photometric === 'MONOCHROME1') notes.push('MONOCHROME1 (low values displayed bright): values kept as stored, not inverted');
  return {
    voxels,
    dims: [cols, rows, n],
    spacing: [colSpacing, rowSpacing, Math.abs(sliceSpacing)],
    affine,
    affineFrom: 'dicom',
    datatype: first.datatype,
    scaling: { ...scaling },
    format: 'dicom',
    frames: volumes,
    source,
    orientation: orientationCodes(affine),
    series: {
      uid: first.seriesUid,
      ...(first.description !== undefined ? { description: first.description } : {}),
      ...(first.modality !== undefined ? { modality: first.modality } : {}),
      transferSyntax: first.transferSyntax,
      bitsStored: first.bitsStored,
      photometric: first.photometric,
      files: files.length,
      enhanced: first.enhanced,
    },
    ...(notes.length > 0 ? { notes } : {}),
  };
}
