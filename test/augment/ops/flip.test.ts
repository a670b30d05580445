import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flip } from '../../../services/augment/ops/flip.ts';
import { createRng } from '../../../services/augment/random.ts';
import { CHANNELS, assertCode, assertSameImage, assertSeededAndReplayable, makeImage, remap } from './fixtures.ts';

const W = 13;
const H = 7;
const cases = [
  { direction: 'horizontal', map: (x: number, y: number): [number, number] => [W - 1 - x, y] },
  { direction: 'vertical', map: (x: number, y: number): [number, number] => [x, H - 1 - y] },
  { direction: 'both', map: (x: number, y: number): [number, number] => [W - 1 - x, H - 1 - y] },
  { direction: 'none', map: (x: number, y: number): [number, number] => [x, y] },
] as const;

for (const channels of CHANNELS) {
  for (const { direction, map } of cases) {
    test(`flip ${direction} moves every pixel exactly (${channels} channels)`, async () => {
      const image = await makeImage(W, H, channels);
      const resolved = flip.sample(createRng(0), image, { direction }, {});
      assert.deepEqual(resolved, { direction });
      assertSameImage(await flip.apply(image, resolved, {}), remap(image, W, H, map));
    });
  }
}

test('flip defaults to horizontal', () => {
  assert.deepEqual(flip.sample(createRng(0), { width: W, height: H }, {}, {}), { direction: 'horizontal' });
});

test('flip random flips each axis independently with probability 1/2, sometimes neither', () => {
  const counts = { horizontal: 0, vertical: 0, both: 0, none: 0 };
  const n = 4000;
  for (let seed = 0; seed < n; seed++) {
    counts[flip.sample(createRng(seed), { width: W, height: H }, { direction: 'random' }, {}).direction]++;
  }
  for (const [direction, count] of Object.entries(counts)) {
    assert.ok(Math.abs(count / n - 0.25) < 0.03, `${direction}: ${count} of ${n}`);
  }
});

test('flip: same seed, same bytes; resolved parameters replay', async () => {
  const image = await makeImage(W, H, 3);
  await assertSeededAndReplayable(flip, image, { direction: 'random' }, {}, [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('flip rejects an unknown direction', () => {
  assertCode(() => flip.sample(createRng(0), { width: W, height: H }, { direction: 'diagonal' as never }, {}), 'AUG_INVALID_PARAM');
});
