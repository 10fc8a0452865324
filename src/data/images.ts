/**
 * A folder of PNG or JPEG images plus a labels CSV. The CSV has a header with columns `filename` (relative to
 * the image folder) and `label` (integer class id); other columns are ignored. Images are read in CSV row
 * order; files the CSV does not list are ignored.
 */
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { InputError } from '../errors.js';
import { parseCsv, parseLabelCell } from './csv.js';
import { makeDataset, type DatasetParts } from './dataset.js';
import { readInputFile, requireDirectory } from './files.js';
import type { Dataset } from './types.js';

/** Channels of the loaded images: 1 (gray), 3 (RGB) or 4 (RGBA). */
export type ImageChannels = 1 | 3 | 4;

/** Options of an image-folder dataset. */
export interface ImageFolderOptions {
  /** Labels CSV; default `<dir>/labels.csv`. */
  labels?: string;
  /**
   * Channels to produce. Default: 1 if the first listed image is grayscale (PNG gray or gray+alpha, or a
   * one-component JPEG), else 3. Alpha is kept only when 4 is asked for. Colour to gray uses the
   * ITU-R BT.601 luma 0.299 R + 0.587 G + 0.114 B; gray to colour repeats the value.
   */
  channels?: ImageChannels;
}

/** A decoded image as RGBA floats in [0, 1], plus whether the file itself was grayscale. */
export interface DecodedImage {
  width: number;
  height: number;
  gray: boolean;
  rgba: Float32Array;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];

/** Number of colour components a JPEG declares in its start-of-frame marker (1 for grayscale). */
function jpegComponents(bytes: Uint8Array): number | undefined {
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const marker = bytes[i + 1]!;
    if (marker === 0xff) {
      i++;
      continue;
    }
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame header.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return bytes[i + 9];
    i += 2 + ((bytes[i + 2]! << 8) | bytes[i + 3]!);
  }
  return undefined;
}

/**
 * Decode PNG (any bit depth; 16-bit keeps full precision) or JPEG bytes, detected by content, not name.
 * @throws InputError when the bytes are neither or cannot be decoded.
 */
export function decodeImage(bytes: Buffer, name: string): DecodedImage {
  try {
    if (PNG_MAGIC.every((b, i) => bytes[i] === b)) {
      // skipRescale keeps 16-bit samples; the scale then depends on the depth (palettes are always 8-bit).
      const png = PNG.sync.read(bytes, { skipRescale: true });
      const data = png.data as unknown as ArrayLike<number>;
      const max = (png.colorType as number) === 3 ? 255 : 2 ** png.depth - 1;
      const rgba = new Float32Array(png.width * png.height * 4);
      for (let i = 0; i < rgba.length; i++) rgba[i] = data[i]! / max;
      return { width: png.width, height: png.height, gray: png.colorType === 0 || png.colorType === 4, rgba };
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
      const rgba = new Float32Array(img.data.length);
      for (let i = 0; i < rgba.length; i++) rgba[i] = img.data[i]! / 255;
      return { width: img.width, height: img.height, gray: jpegComponents(bytes) === 1, rgba };
    }
  } catch (err) {
    throw new InputError(`cannot decode image ${name}: ${err instanceof Error ? err.message : String(err)}; re-export it as PNG or JPEG`);
  }
  throw new InputError(`${name} is neither PNG nor JPEG; convert it to PNG`);
}

/** Write one decoded image into `out` at `offset` with `channels` channels (see {@link ImageFolderOptions}). */
function putPixels(img: DecodedImage, channels: ImageChannels, out: Float32Array, offset: number): void {
  const pixels = img.width * img.height;
  for (let p = 0; p < pixels; p++) {
    const r = img.rgba[p * 4]!;
    const g = img.rgba[p * 4 + 1]!;
    const b = img.rgba[p * 4 + 2]!;
    const o = offset + p * channels;
    if (channels === 1) {
      out[o] = img.gray ? r : 0.299 * r + 0.587 * g + 0.114 * b;
    } else {
      out[o] = r;
      out[o + 1] = g;
      out[o + 2] = b;
      if (channels === 4) out[o + 3] = img.rgba[p * 4 + 3]!;
    }
  }
}

/** The arrays of {@link loadImageFolder}, unchecked and unhashed. */
export async function imageFolderParts(dir: string, opts: ImageFolderOptions = {}, source = `images:${dir}`): Promise<DatasetParts> {
  await requireDirectory(dir, 'image folder');
  const labelsPath = opts.labels ?? join(dir, 'labels.csv');
  const records = parseCsv((await readInputFile(labelsPath, 'labels CSV')).toString('utf8'), labelsPath);
  const names = (records[0]?.cells ?? []).map((c) => c.trim());
  const fileAt = names.indexOf('filename');
  const labelAt = names.indexOf('label');
  if (fileAt < 0 || labelAt < 0) {
    throw new InputError(`${labelsPath} needs a header with columns filename,label (found: ${names.join(',') || 'nothing'}); fix the header`);
  }
  // An optional `group` column names each image's slice, for robustness per slice (`perSlice`).
  const groupAt = names.indexOf('group');
  const rows = records.slice(1);
  const groups = groupAt < 0 ? undefined : rows.map((row) => (row.cells[groupAt] ?? '').trim());
  if (rows.length === 0) throw new InputError(`${labelsPath} lists no images; add one filename,label row per image`);
  let width = 0;
  let height = 0;
  let channels: ImageChannels = opts.channels ?? 3;
  let first = '';
  let x = new Float32Array(0);
  const y = new Int32Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    const file = row.cells[fileAt]?.trim() ?? '';
    const labelCell = row.cells[labelAt] ?? '';
    const label = parseLabelCell(labelCell);
    if (file === '' || label === undefined) {
      throw new InputError(`${labelsPath} line ${row.line}: expected filename,label with an integer label >= 0, got "${row.cells.join(',')}"; fix the row`);
    }
    const path = join(dir, file);
    const img = decodeImage(await readInputFile(path, 'image'), path);
    if (r === 0) {
      ({ width, height } = img);
      first = file;
      channels = opts.channels ?? (img.gray ? 1 : 3);
      x = new Float32Array(rows.length * width * height * channels);
    } else if (img.width !== width || img.height !== height) {
      throw new InputError(`image ${file} is ${img.width}x${img.height} but ${first} is ${width}x${height}; all images must have the same size (resize them first)`);
    }
    putPixels(img, channels, x, r * width * height * channels);
    y[r] = label;
  }
  return { x, y, shape: [height, width, channels], source, ...(groups !== undefined ? { groups } : {}) };
}

/**
 * Load a folder of same-size PNG/JPEG images listed in a labels CSV (`filename,label` header; default
 * `<dir>/labels.csv`), as float32 in [0, 1] with shape [height, width, channels] (NHWC). Channels follow
 * {@link ImageFolderOptions.channels}.
 *
 * @example await loadImageFolder('digits/', { channels: 1 })
 */
export async function loadImageFolder(dir: string, opts: ImageFolderOptions = {}): Promise<Dataset> {
  return makeDataset(await imageFolderParts(dir, opts));
}
