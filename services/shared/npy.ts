import { endianness } from 'node:os';
import type { RawImage } from './intake.ts';

/** How an `.npy` answer orders its axes: `hwc` is the decoded layout, `chw` the one PyTorch convolutions take. */
export const NPY_LAYOUTS = ['hwc', 'chw'] as const;
export type NpyLayout = (typeof NPY_LAYOUTS)[number];

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
/** NumPy aligns the data that follows the header to this many bytes (format 1.0). */
const ALIGN = 64;

/**
 * The NumPy format 1.0 header for a C-ordered `|u1` array of `shape`: magic, version, the
 * little-endian header length, then the dict padded with spaces and ended by a newline so the
 * data starts on a 64-byte boundary.
 */
export function npyHeader(shape: readonly number[]): Buffer {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  const dict = `{'descr': '|u1', 'fortran_order': False, 'shape': (${dims}), }`;
  const unpadded = MAGIC.length + 2 + dict.length + 1;
  const padding = (ALIGN - (unpadded % ALIGN)) % ALIGN;
  const text = dict + ' '.repeat(padding) + '\n';
  const header = Buffer.alloc(MAGIC.length + 2 + text.length);
  MAGIC.copy(header, 0);
  header.writeUInt16LE(text.length, MAGIC.length);
  header.write(text, MAGIC.length + 2, 'latin1');
  return header;
}

/**
 * Raw pixels as an `.npy` file, which `numpy.load` reads as it is: `[H, W, C]` (`hwc`, the
 * pixels' own order, copied once behind the header) or `[C, H, W]` (`chw`, planes).
 * @example npyImage({ data, width: 224, height: 224, channels: 3 }) // 128-byte header + 150528 bytes
 */
export function npyImage(raw: RawImage, layout: NpyLayout = 'hwc'): Buffer {
  const { data, width, height, channels } = raw;
  const shape = layout === 'chw' ? [channels, height, width] : [height, width, channels];
  const header = npyHeader(shape);
  const pixels = width * height;
  const out = Buffer.allocUnsafe(header.length + pixels * channels);
  header.copy(out, 0);
  if (layout === 'hwc' || channels === 1) {
    data.copy(out, header.length, 0, pixels * channels);
    return out;
  }
  const planes = Array.from({ length: channels }, (_, c) => out.subarray(header.length + c * pixels, header.length + (c + 1) * pixels));
  if (channels === 3) {
    const [r, g, b] = planes as [Buffer, Buffer, Buffer];
    // Four pixels at a time as three 32-bit words where the buffers allow it, then byte by byte.
    const aligned = LITTLE_ENDIAN && data.byteOffset % 4 === 0 && (out.byteOffset + header.length) % 4 === 0 && pixels % 4 === 0;
    const done = aligned ? planesOfFour(data, out, header.length, pixels) : 0;
    for (let i = done, j = 3 * done; i < pixels; i++, j += 3) {
      r[i] = data[j]!;
      g[i] = data[j + 1]!;
      b[i] = data[j + 2]!;
    }
    return out;
  }
  planes.forEach((plane, c) => {
    for (let i = 0, j = c; i < pixels; i++, j += channels) plane[i] = data[j]!;
  });
  return out;
}

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * RGB RGB RGB RGB → RRRR GGGG BBBB, four pixels per step as three 32-bit words read and three
 * written (a third of the time of the byte loop). `data` and `out + offset` are 4-byte aligned,
 * `pixels` a multiple of 4, the machine little-endian. Returns the pixels done.
 */
function planesOfFour(data: Buffer, out: Buffer, offset: number, pixels: number): number {
  const words = new Uint32Array(data.buffer, data.byteOffset, (pixels * 3) / 4);
  const planes = new Uint32Array(out.buffer, out.byteOffset + offset, (pixels * 3) / 4);
  const quarter = pixels / 4;
  for (let q = 0, w = 0; q < quarter; q++, w += 3) {
    const a = words[w]!; // r0 g0 b0 r1
    const b = words[w + 1]!; // g1 b1 r2 g2
    const c = words[w + 2]!; // b2 r3 g3 b3
    planes[q] = (a & 0xff) | ((a >>> 24) << 8) | (((b >>> 16) & 0xff) << 16) | (((c >>> 8) & 0xff) << 24);
    planes[quarter + q] = ((a >>> 8) & 0xff) | ((b & 0xff) << 8) | ((b >>> 24) << 16) | (((c >>> 16) & 0xff) << 24);
    planes[2 * quarter + q] = ((a >>> 16) & 0xff) | (((b >>> 8) & 0xff) << 8) | ((c & 0xff) << 16) | ((c >>> 24) << 24);
  }
  return pixels;
}

/** A single-channel mask as a two-dimensional `[H, W]` `.npy`. */
export function npyMask(mask: { data: Uint8Array; width: number; height: number }): Buffer {
  const header = npyHeader([mask.height, mask.width]);
  return Buffer.concat([header, mask.data.subarray(0, mask.width * mask.height)]);
}
