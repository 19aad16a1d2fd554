/** `readVolume`: a volume file (path in Node, or bytes anywhere) to a canonical {@link Volume}. */
import { nodeFs, nodeFsSync, nodePath } from '../../env/node-builtin.js';
import { isDicomBytes, readDicom, type DicomFileBytes } from './dicom.js';
import { VolumeReadError } from './errors.js';
import { readNifti } from './nifti.js';
import { toCanonical, type Volume } from './volume.js';

/** An ANALYZE / NIfTI pair in memory. */
export interface VolumePairBytes {
  /** `.hdr` (or `.hdr.gz`) bytes. */
  header: Uint8Array;
  /** `.img` (or `.img.gz`) bytes. */
  image: Uint8Array;
}

/** Options of {@link readVolume}. */
export interface ReadVolumeOptions {
  /** Reorient to RAS voxel order (as nibabel's `as_closest_canonical`). Default true. */
  canonical?: boolean;
  /** Which 3-D volume of a 4-D file (or of DICOM frames / files whose slice positions repeat, e.g. a time series). Default 0. */
  frame?: number;
  /**
   * DICOM: the SeriesInstanceUID (0020,000E) to read when a folder (or the files given) hold several series; without
   * it such a folder is refused with a list of its series.
   */
  series?: string;
  /** Name for messages when bytes are given. Default `'<bytes>'`. */
  name?: string;
}

// A DICOM folder: every file in it (not recursive); hidden files and subfolders are left out and counted.
async function readDicomFolder(folder: string, options: ReadVolumeOptions): Promise<Volume> {
  const fs = nodeFs('reading a DICOM folder');
  const path = nodePath('reading a DICOM folder');
  const entries = (await fs.readdir(folder, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  const skipped: string[] = [];
  const files: DicomFileBytes[] = [];
  for (const entry of entries) {
    const full = path.join(folder, entry.name);
    if (entry.name.startsWith('.') || !(entry.isFile() || (entry.isSymbolicLink() && (await fs.stat(full)).isFile()))) skipped.push(full);
    else files.push({ name: full, bytes: new Uint8Array(await fs.readFile(full)) });
  }
  return readDicom(files, folder, { frame: options.frame, series: options.series, skipped });
}

// The other file of a .hdr/.img pair, plain or gzipped.
function pairedFile(path: string): string | undefined {
  const m = /^(.*)\.(hdr|img)(\.gz)?$/i.exec(path);
  if (!m) return undefined;
  const other = m[2].toLowerCase() === 'hdr' ? 'img' : 'hdr';
  const fs = nodeFsSync('finding the other file of an ANALYZE pair');
  return [`${m[1]}.${other}${m[3] ?? ''}`, `${m[1]}.${other}`, `${m[1]}.${other}.gz`].find((p) => fs.existsSync(p));
}

/**
 * Reads a NIfTI-1 / NIfTI-2 file (`.nii`, `.nii.gz`) or an ANALYZE 7.5 / NIfTI pair (`.hdr` + `.img`, plain or
 * gzipped; give either file's path and the other is found beside it): voxels after intensity scaling
 * (scl_slope / scl_inter), dims, voxel spacing in mm, the affine to patient space (sform, else qform, else the voxel
 * sizes, as nibabel chooses), the stored data type; reoriented to RAS unless `canonical: false`.
 *
 * DICOM (uncompressed): a folder of a series' files (slices ordered by position along the slice normal; non-DICOM
 * files skipped), one classic file (one slice) or an enhanced multi-frame file; the affine from DICOM's LPS to RAS
 * (see {@link readDicom}). A path ending in `.dcm` or bytes with the DICM mark are read as DICOM; in a browser, give a
 * series as an array of {@link DicomFileBytes}.
 * @param input A path (Node: a file or a DICOM folder), the file's bytes, a pair's bytes, or a DICOM series' files.
 * @param options Reorientation, frame of a 4-D file, DICOM series, name for messages.
 * @returns The volume.
 * @throws {@link VolumeReadError} naming the file or folder: missing, not NIfTI/ANALYZE/DICOM, truncated, an unpaired
 *   `.hdr`; DICOM: compressed pixel data, no pixel data, no DICOM image in a folder, several series and no `series`,
 *   slices of different size or orientation.
 * @example
 * ```ts
 * const volume = await readVolume('scan.nii.gz');
 * console.log(volume.dims, volume.spacing, volume.orientation); // [188, 256, 190] [0.88, 0.88, 0.88] 'RAS'
 * ```
 */
export async function readVolume(input: string | Uint8Array | ArrayBuffer | VolumePairBytes | readonly DicomFileBytes[], options: ReadVolumeOptions = {}): Promise<Volume> {
  const canonical = (volume: Volume) => (options.canonical === false ? volume : toCanonical(volume));
  if (Array.isArray(input)) return canonical(readDicom(input as readonly DicomFileBytes[], options.name ?? '<bytes>', { frame: options.frame, series: options.series }));
  let header: Uint8Array;
  let image: Uint8Array | undefined;
  let name = options.name ?? '<bytes>';
  if (typeof input === 'string') {
    name = input;
    const fs = nodeFs('reading a volume file');
    let stat;
    try {
      stat = await fs.stat(input);
    } catch {
      throw new VolumeReadError('no such file', input);
    }
    if (stat.isDirectory()) return canonical(await readDicomFolder(input, options));
    header = new Uint8Array(await fs.readFile(input));
    if (/\.dcm$/i.test(input) && !isDicomBytes(header)) throw new VolumeReadError('not a DICOM Part 10 file (no "DICM" mark at byte 128)', input);
    if (/\.(hdr|img)(\.gz)?$/i.test(input)) {
      const other = pairedFile(input);
      if (!other) throw new VolumeReadError(`an ANALYZE/NIfTI pair needs both files: no ${/\.hdr/i.test(input) ? '.img' : '.hdr'} file beside it`, input);
      const otherBytes = new Uint8Array(await fs.readFile(other));
      [header, image] = /\.hdr/i.test(input) ? [header, otherBytes] : [otherBytes, header];
    }
  } else if (input instanceof Uint8Array || input instanceof ArrayBuffer) {
    header = input instanceof Uint8Array ? input : new Uint8Array(input);
  } else {
    const pair = input as VolumePairBytes;
    header = pair.header;
    image = pair.image;
  }
  if (image === undefined && isDicomBytes(header)) return canonical(readDicom([{ name, bytes: header }], name, { frame: options.frame, series: options.series }));
  return canonical(readNifti(header, image, name, { frame: options.frame }));
}
