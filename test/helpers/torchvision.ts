import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { RawImage } from '../../services/augment/ops/types.ts';

/** Where test/fixtures/torchvision/make_fixtures.py writes torchvision's expected pixels. */
export const TORCHVISION_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'torchvision');

/**
 * How close augserve must come to torchvision (issue 21's thresholds): mean |difference| in levels,
 * and the share of values allowed to differ by more than `over` levels.
 */
export const TOLERANCES = {
  exact: { mean: 0.01, over: 1, share: 0 },
  colour: { mean: 1, over: 2, share: 0.01 },
  hue: { mean: 1.5, over: 8, share: 0.005 },
  geometric: { mean: 1.5, over: 8, share: 0.02 },
} as const;
export type ToleranceName = keyof typeof TOLERANCES;

export interface TorchvisionCase {
  name: string;
  input: string;
  op: string;
  params: Record<string, unknown>;
  tolerance: ToleranceName;
}

export function torchvisionCases(group: string): TorchvisionCase[] {
  return JSON.parse(readFileSync(join(TORCHVISION_FIXTURES, group, 'cases.json'), 'utf8')) as TorchvisionCase[];
}

export function inputBytes(name: string): Buffer {
  return readFileSync(join(TORCHVISION_FIXTURES, 'inputs', `${name}.png`));
}

export function expectedBytes(group: string, name: string): Buffer {
  return readFileSync(join(TORCHVISION_FIXTURES, group, `${name}.png`));
}

/** Decoded 8-bit pixels, grey kept as one channel. */
export async function decodeRaw(bytes: Buffer): Promise<RawImage> {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] };
}

export interface Difference {
  mean: number;
  /** Share of values off by more than the tolerance's `over`. */
  share: number;
  max: number;
}

export function difference(actual: RawImage, expected: RawImage, over: number): Difference {
  assert.deepEqual([actual.width, actual.height, actual.channels], [expected.width, expected.height, expected.channels], 'size and channels');
  let sum = 0;
  let big = 0;
  let max = 0;
  for (let i = 0; i < actual.data.length; i++) {
    const d = Math.abs(actual.data[i]! - expected.data[i]!);
    sum += d;
    if (d > over) big++;
    if (d > max) max = d;
  }
  return { mean: sum / actual.data.length, share: big / actual.data.length, max };
}

/** Asserts `actual` is within the named tolerance of torchvision's `expected`; returns the measured difference. */
export function assertCloseToTorchvision(actual: RawImage, expected: RawImage, tolerance: ToleranceName, label: string): Difference {
  const t = TOLERANCES[tolerance];
  const d = difference(actual, expected, t.over);
  const said = `${label}: mean ${d.mean.toFixed(3)}, ${(d.share * 100).toFixed(2)} % off by > ${t.over}, max ${d.max} (tolerance ${tolerance})`;
  assert.ok(d.mean <= t.mean && d.share <= t.share, said);
  return d;
}
