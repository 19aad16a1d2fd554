/** `readVolume`: a volume file (path in Node, or bytes anywhere) to a canonical {@link Volume}. */
import { nodeFs, nodeFsSync } from '../../env/node-builtin.js';
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
  /** Which 3-D volume of a 4-D file. Default 0. */
  frame?: number;
  /** Name for messages when bytes are given. Default `'<bytes>'`. */
  name?: string;
}

const isDicom = (bytes: Uint8Array): boolean => bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;

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
 * @param input A path (Node), the file's bytes, or a pair's bytes.
 * @param options Reorientation, frame of a 4-D file, name for messages.
 * @returns The volume.
 * @throws {@link VolumeReadError} naming the file: missing, not NIfTI/ANALYZE, truncated, an unpaired `.hdr`, a
 *   DICOM file or folder (not read yet).
 * @example
 * ```ts
 * const volume = await readVolume('scan.nii.gz');
 * console.log(volume.dims, volume.spacing, volume.orientation); // [188, 256, 190] [0.88, 0.88, 0.88] 'RAS'
 * ```
 */
export async function readVolume(input: string | Uint8Array | ArrayBuffer | VolumePairBytes, options: ReadVolumeOptions = {}): Promise<Volume> {
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
    if (stat.isDirectory()) throw new VolumeReadError('a folder: DICOM series folders are not read yet (give a .nii, .nii.gz or .hdr/.img file)', input);
    header = new Uint8Array(await fs.readFile(input));
    if (/\.(hdr|img)(\.gz)?$/i.test(input)) {
      const other = pairedFile(input);
      if (!other) throw new VolumeReadError(`an ANALYZE/NIfTI pair needs both files: no ${/\.hdr/i.test(input) ? '.img' : '.hdr'} file beside it`, input);
      const otherBytes = new Uint8Array(await fs.readFile(other));
      [header, image] = /\.hdr/i.test(input) ? [header, otherBytes] : [otherBytes, header];
    }
  } else if (input instanceof Uint8Array || input instanceof ArrayBuffer) {
    header = input instanceof Uint8Array ? input : new Uint8Array(input);
  } else {
    header = input.header;
    image = input.image;
  }
  if (isDicom(header)) throw new VolumeReadError('a DICOM file: DICOM is not read yet (convert it to NIfTI, e.g. with dcm2niix)', name);
  const volume = readNifti(header, image, name, { frame: options.frame });
  return options.canonical === false ? volume : toCanonical(volume);
}
