/**
 * gaussian_blur's ways on raw pixels, timed interleaved in process on the bench's 1024×768 photo:
 * the op's separable pass in JavaScript (equal to torchvision's F.gaussian_blur, see
 * test/augment/ops/gaussian-blur.test.ts) against sharp's `blur(sigma)` (libvips gaussblur, its own
 * kernel length and copied edges) and sharp's `convolve` with the same 2-D kernel (k×k taps, copied
 * edges). Each sharp output's pixels are compared with the separable pass's.
 *
 *   node --import tsx bench/blur-experiments.ts [rounds=15] [kernel_size=7] [sigma=1.5]
 *
 * sharp.concurrency(1), as the service runs. Prints median wall and CPU ms per image.
 */
import sharp from 'sharp';
import { AUGMENT_INPUTS, augmentInput } from './inputs.ts';
import { median, pixelDifference, round, timeInterleaved } from './stats.ts';
import { gaussianKernel1d, separableBlur } from '../services/augment/ops/gaussian-blur.ts';
import type { RawImage } from '../services/augment/ops/types.ts';

const rounds = Number(process.argv[2] ?? 15);
const k = Number(process.argv[3] ?? 7);
const sigma = Number(process.argv[4] ?? 1.5);
sharp.concurrency(1);
const { image } = await augmentInput(AUGMENT_INPUTS[1]!, 'bench/work/inputs');
const { data, info } = await sharp(image.bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const raw: RawImage = { data, width: info.width, height: info.height, channels: 3 };
const kernel1d = gaussianKernel1d(k, sigma);
const kernel2d = Array.from({ length: k * k }, (_, i) => kernel1d[Math.floor(i / k)]! * kernel1d[i % k]!);
const rawIn = { raw: { width: raw.width, height: raw.height, channels: 3 as const } };

const ways: Array<[string, () => Promise<Buffer>]> = [
  ['separable (JS)', async () => separableBlur(raw, kernel1d).data],
  ['sharp blur(sigma)', () => sharp(raw.data, rawIn).blur(sigma).raw().toBuffer()],
  ['sharp convolve k×k', () => sharp(raw.data, rawIn).convolve({ width: k, height: k, kernel: kernel2d, scale: 1 }).raw().toBuffer()],
];
const reference = await ways[0]![1]();
const { wall, cpu } = await timeInterleaved(ways.map(([, run]) => run), rounds);
console.log(`${raw.width}×${raw.height} RGB, kernel_size ${k}, sigma ${sigma}, ${rounds} rounds`);
for (const [i, [name, run]] of ways.entries()) {
  const out = await run();
  console.log(`${name.padEnd(20)} wall ${round(median(wall[i]!), 1)} ms  cpu ${round(median(cpu[i]!), 1)} ms  vs separable: ${pixelDifference(out, reference)}`);
}
