import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** Folders searched, in order, for the Fashion-MNIST idx files. */
export const DATA_DIRS = [
  process.env.FASHION_MNIST_DIR ?? '',
  join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', '.data', 'fashion-mnist'),
  '/usr/share/datasets/fashion-mnist',
];

/** The first folder holding the test split, or undefined when the dataset is not installed. */
export function findDataDir(): string | undefined {
  return DATA_DIRS.find((d) => d !== '' && existsSync(join(d, 't10k-labels-idx1-ubyte.gz')));
}

/** Parse an idx1/idx3 uint8 file (gzipped or not) into its dimensions and bytes. */
export function readIdx(path: string): { dims: number[]; data: Uint8Array } {
  let raw = readFileSync(path);
  if (path.endsWith('.gz')) raw = gunzipSync(raw);
  if (raw[0] !== 0 || raw[1] !== 0 || raw[2] !== 0x08) {
    throw new Error(`expected uint8 idx header for ${path}, got ${raw.subarray(0, 4).toString('hex')}`);
  }
  const ndim = raw.readUInt8(3);
  const dims = Array.from({ length: ndim }, (_, i) => raw.readUInt32BE(4 + 4 * i));
  return { dims, data: new Uint8Array(raw.buffer, raw.byteOffset + 4 + 4 * ndim, dims.reduce((a, b) => a * b, 1)) };
}

export interface TestSet { images: Uint8Array; labels: Uint8Array; count: number; size: number }

/** The 10,000-image test split as raw bytes (row-major 28x28 per image). */
export function loadTestSet(dir = findDataDir()): TestSet {
  if (!dir) throw new Error('Fashion-MNIST not found; install dataset-fashion-mnist or set FASHION_MNIST_DIR');
  const x = readIdx(join(dir, 't10k-images-idx3-ubyte.gz'));
  const y = readIdx(join(dir, 't10k-labels-idx1-ubyte.gz'));
  const [count, rows, cols] = x.dims;
  if (x.dims.length !== 3 || count === undefined || rows === undefined || cols === undefined) {
    throw new Error(`expected 3 dimensions (count, rows, cols) for the test images, got [${x.dims.join(', ')}]`);
  }
  return { images: x.data, labels: y.data, count, size: rows * cols };
}

/**
 * NCHW float32 batch for images [start, start+n): pixel/255 then (x - mean) / std,
 * the same arithmetic config.json's `preprocess` asks of the service.
 */
export function normalizedBatch(set: TestSet, start: number, n: number, mean: number, std: number): Float32Array {
  const out = new Float32Array(n * set.size);
  const src = set.images.subarray(start * set.size, (start + n) * set.size);
  for (let i = 0; i < out.length; i++) out[i] = (src[i]! / 255 - mean) / std;
  return out;
}
