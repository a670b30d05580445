/**
 * Where rotate's time goes, and what else libvips could do instead: the bench's 1024×768 JPEG and
 * rotate parameters (bench/inputs.ts, bench/augment-cases.ts), in process, one image at a time,
 * every variant once per round in turn (interleaved, so the machine's load falls on all alike).
 *
 *   node --import tsx bench/rotate-experiments.ts [rounds=25] [concurrencies=1,2]
 *
 * `concurrencies` are sharp.concurrency() settings: libvips threads per image (the service runs 1;
 * sharp's own default here is 1 too, as on any glibc Linux without jemalloc).
 * Prints, per setting, the median wall ms and CPU ms (every thread of this process) per image of:
 *   - decode alone (JPEG → raw), encode alone (raw → JPEG at the service's settings), and
 *     decode → encode in one pipeline: the floor any rotate pays;
 *   - the service's paths: `augmentOne` (the one-pass pipeline the route runs) and the raw path
 *     (decode → ops/rotate.ts `apply` → encode), and each as it was before the lazy rotation;
 *   - sharp pipelines JPEG → JPEG: `.rotate()` with and without the centre extract, the same with
 *     the rotation left lazy (see `lazyRotate`), and `.affine()` with each of sharp's interpolators;
 *   - raw → raw, the rotation alone: `.rotate()` and `.affine()` per interpolator.
 * and for each pipeline how its decoded pixels compare with the service's (max abs difference,
 * share of differing bytes). Compare with OpenCV: bench/python/rotate_experiments.py.
 */
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import sharp, { type Sharp } from 'sharp';
import { augmentCases, FILL, ROTATE_ANGLE, SEED } from './augment-cases.ts';
import { AUGMENT_INPUTS, augmentInput } from './inputs.ts';
import { median, pixelDifference, round, timeInterleaved } from './stats.ts';
import { intakeErrors } from '../services/augment/errors.ts';
import { createRng } from '../services/augment/random.ts';
import { operations } from '../services/augment/ops/index.ts';
import { augmentOne } from '../services/augment/single.ts';
import { centreFit, centreSpan, viaSharp } from '../services/augment/ops/raster.ts';
import { decodeImage, encodeImage, inspectImage, type IntakeLimits } from '../services/shared/intake.ts';
import type { ImageSize } from '../services/augment/ops/types.ts';

const rounds = Number(process.argv[2] ?? 25);
const concurrencies = (process.argv[3] ?? '1,2').split(',').map(Number);

const { image } = await augmentInput(AUGMENT_INPUTS[1]!, 'bench/work/inputs');
const limits: IntakeLimits = { fileBytes: 1 << 30, files: 2, fieldBytes: 1 << 16, fields: 64, inputPixels: 40_000_000 };
const c = augmentCases(image.width, image.height).find((x) => x.op === 'rotate')!;
const meta = await inspectImage(image.bytes, limits, intakeErrors);
const resolve = (size: ImageSize) => operations.rotate.sample(createRng(SEED), size, c.params, {}) as Record<string, unknown>;
const { width, height } = image;
const turned = rotatedSize({ width, height }, ROTATE_ANGLE)!;
const x = centreSpan(turned.width, width);
const y = centreSpan(turned.height, height);
const centre = { left: x.src, top: y.src, width, height };
const grey = parseInt(FILL.slice(1, 3), 16);
const background = { r: grey, g: grey, b: grey, alpha: 1 };
// sharp turns clockwise for a positive angle; the API counter-clockwise.
const angle = -ROTATE_ANGLE;
const rad = (angle * Math.PI) / 180;
// vips_rotate is vips_similarity: [cos −sin; sin cos] about the origin, canvas = turned bounding box.
const matrix: [number, number, number, number] = [Math.cos(rad), -Math.sin(rad), Math.sin(rad), Math.cos(rad)];
const jpeg = (s: Sharp) => s.jpeg({ optimiseCoding: false }).toBuffer();
const raw = (await decodeImage(image.bytes, limits, intakeErrors, 'image', meta)).raw;
const fromRaw = () => sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
const fromJpeg = () => sharp(image.bytes);

/**
 * sharp runs `.rotate(a).extract(box)` as rotate-before: the whole turned canvas is computed into
 * memory (`copy_memory`) and then cut. An extract of the whole image first moves the rotation to
 * sharp's later, lazy step, so only the tiles the centre extract asks for are computed.
 */
const lazyRotate = (s: Sharp) => s.extract({ left: 0, top: 0, width, height }).rotate(angle, { background }).extract(centre);

type Variant = { name: string; run: () => Promise<Buffer>; output: 'jpeg' | 'raw' };
const variants: Variant[] = [
  { name: 'decode alone (JPEG → raw)', output: 'raw', run: () => fromJpeg().raw().toBuffer() },
  { name: 'encode alone (raw → JPEG)', output: 'jpeg', run: () => encodeImage(raw, 'jpeg') },
  { name: 'decode → encode, no operation', output: 'jpeg', run: () => jpeg(fromJpeg()) },
  {
    name: 'service: augmentOne (one pass)',
    output: 'jpeg',
    run: async () => (await augmentOne({ op: 'rotate', bytes: image.bytes, meta, resolve, ctx: {}, format: 'jpeg', quality: undefined, limits })).bytes,
  },
  {
    name: 'service: raw path (decode → apply → encode)',
    output: 'jpeg',
    run: async () => {
      const input = await decodeImage(image.bytes, limits, intakeErrors, 'image', meta);
      return encodeImage(await operations.rotate.apply(input.raw, resolve({ width, height }), {}), 'jpeg');
    },
  },
  {
    name: 'raw path before: turned canvas cropped in JS',
    output: 'jpeg',
    run: async () => {
      const input = (await decodeImage(image.bytes, limits, intakeErrors, 'image', meta)).raw;
      const turnedRaw = await viaSharp(input, (s) => s.rotate(angle, { background }));
      return encodeImage(centreFit(turnedRaw, width, height, Uint8Array.of(grey, grey, grey)), 'jpeg');
    },
  },
  { name: 'JPEG→JPEG rotate + extract (the one pass before)', output: 'jpeg', run: () => jpeg(fromJpeg().rotate(angle, { background }).extract(centre)) },
  { name: 'JPEG→JPEG rotate + extract, lazy rotate (the one pass now)', output: 'jpeg', run: () => jpeg(lazyRotate(fromJpeg())) },
  { name: 'JPEG→JPEG rotate, whole canvas', output: 'jpeg', run: () => jpeg(fromJpeg().rotate(angle, { background })) },
  ...Object.entries(sharp.interpolators).map(
    ([name, interpolator]): Variant => ({
      name: `JPEG→JPEG affine ${name}, whole canvas`,
      output: 'jpeg',
      run: () => jpeg(fromJpeg().affine(matrix, { background, interpolator })),
    }),
  ),
  { name: 'raw→raw rotate, whole canvas', output: 'raw', run: () => fromRaw().rotate(angle, { background }).raw().toBuffer() },
  { name: 'raw→raw rotate + extract, lazy rotate', output: 'raw', run: () => lazyRotate(fromRaw()).raw().toBuffer() },
  ...Object.entries(sharp.interpolators).map(
    ([name, interpolator]): Variant => ({
      name: `raw→raw affine ${name}, whole canvas`,
      output: 'raw',
      run: () => fromRaw().affine(matrix, { background, interpolator }).raw().toBuffer(),
    }),
  ),
  { name: 'raw→raw copy, no operation', output: 'raw', run: () => fromRaw().raw().toBuffer() },
];

/** Pixels of a variant's output, cut to the service's centre where it kept the whole canvas. */
async function pixels(v: Variant, out: Buffer): Promise<Buffer | undefined> {
  if (v.name.startsWith('decode') || v.name.startsWith('encode') || v.name.includes('no operation')) return undefined;
  // A JPEG of the whole canvas has its 8×8 blocks elsewhere: its centre is not comparable.
  if (v.output === 'jpeg' && v.name.includes('whole canvas')) return undefined;
  let s = v.output === 'jpeg' ? sharp(out) : sharp(out, { raw: v.name.includes('whole canvas') ? { width: turned.width, height: turned.height, channels: 3 } : { width, height, channels: 3 } });
  if (v.name.includes('whole canvas')) s = s.extract(centre);
  return s.raw().toBuffer();
}


console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(', ')}; ${rounds} rounds; ${image.name} ${width}×${height}, rotate ${ROTATE_ANGLE}°, canvas ${turned.width}×${turned.height}`);
// The reference: the service's raw path, JPEG-decoded (the raw→raw variants compare before encoding).
const serviceJpeg = await variants[4]!.run();
const refJpeg = await sharp(serviceJpeg).raw().toBuffer();
const refRaw = await operations.rotate.apply(raw, resolve({ width, height }), {});
for (const conc of concurrencies) {
  sharp.concurrency(conc);
  const { wall, cpu } = await timeInterleaved(variants.map((v) => v.run), rounds);
  console.log(`\n## sharp.concurrency(${conc}) → ${sharp.concurrency()} thread(s); load average now ${loadavg()[0]!.toFixed(2)}`);
  console.log('| variant | wall ms (median) | CPU ms (median) | pixels against the service |');
  console.log('| --- | --- | --- | --- |');
  for (const [i, v] of variants.entries()) {
    const out = await v.run();
    const px = await pixels(v, out);
    const against = px ? pixelDifference(px, v.output === 'jpeg' ? refJpeg : refRaw.data) : '–';
    console.log(`| ${v.name} | ${round(median(wall[i]!), 2)} | ${round(median(cpu[i]!), 2)} | ${against} |`);
  }
}
console.log(`\nload average at end: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);

/**
 * The canvas libvips gives a rotation by `angle` degrees: the bounding box of the turned corners,
 * each side rounded to the nearest pixel. (ops/rotate.ts used it until rotate moved to
 * torchvision's turn about (W/2, H/2) on the shared warp; these experiments still measure libvips.)
 */
function rotatedSize({ width, height }: ImageSize, angle: number): ImageSize | undefined {
  if (angle % 90 === 0) return (angle / 90) % 2 === 0 ? { width, height } : { width: height, height: width };
  const rad = (angle * Math.PI) / 180;
  const c = Math.abs(Math.cos(rad));
  const s = Math.abs(Math.sin(rad));
  const sides = [width * c + height * s, width * s + height * c];
  if (sides.some((v) => Math.abs((v % 1) - 0.5) < 1e-6)) return undefined;
  const [w, h] = sides.map((v) => Math.floor(v + 0.5)) as [number, number];
  return { width: w, height: h };
}
