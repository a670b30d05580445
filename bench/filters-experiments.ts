/**
 * The apply step of gaussian_blur, gaussian_noise, jpeg and erase on the bench's 1024×768 photo
 * (raw RGB in, raw RGB out), timed interleaved in process: what each op's pixel work costs.
 * gaussian_noise was measured here with `Rng.normal` (Box–Muller per value, 175 ms CPU), both
 * values of each Box–Muller pair (137 ms) and the 16-bit quantile table it now uses.
 *
 *   node --import tsx bench/filters-experiments.ts [rounds=9]
 *
 * sharp.concurrency(1), as the service runs. Prints median wall and CPU ms per image.
 */
import sharp from 'sharp';
import { AUGMENT_INPUTS, augmentInput } from './inputs.ts';
import { median, round, timeInterleaved } from './stats.ts';
import { operations, type OpName } from '../services/augment/ops/index.ts';
import { createRng } from '../services/augment/random.ts';

const rounds = Number(process.argv[2] ?? 9);
sharp.concurrency(1);
const { image } = await augmentInput(AUGMENT_INPUTS[1]!, 'bench/work/inputs');
const { data, info } = await sharp(image.bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const raw = { data, width: info.width, height: info.height, channels: 3 as const };
const cases: Array<[OpName, Record<string, unknown>]> = [
  ['gaussian_blur', { kernel_size: 7, sigma: 1.5 }],
  ['gaussian_blur', { kernel_size: 21, sigma: 4 }],
  ['gaussian_noise', { sigma: 10 }],
  ['gaussian_noise', { sigma: 10, per_channel: false }],
  ['jpeg', { quality: 75 }],
  ['erase', { value: 'random' }],
  ['erase', {}],
];
const tasks = cases.map(([op, params]) => {
  const resolved = operations[op].sample(createRng(1), raw, params, {});
  return () => operations[op].apply(raw, resolved, {});
});
const { wall, cpu } = await timeInterleaved(tasks, rounds);
console.log(`${raw.width}×${raw.height} RGB, ${rounds} rounds`);
for (const [i, [op, params]] of cases.entries()) {
  console.log(`${`${op} ${JSON.stringify(params)}`.padEnd(50)} wall ${round(median(wall[i]!), 1)} ms  cpu ${round(median(cpu[i]!), 1)} ms`);
}
