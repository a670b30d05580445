import assert from 'node:assert/strict';
import { test } from 'node:test';
import { colourPixel, parseColour } from '../../../services/augment/colour.ts';
import { cutout } from '../../../services/augment/ops/cutout.ts';
import type { Box } from '../../../services/augment/ops/types.ts';
import { createRng } from '../../../services/augment/random.ts';
import { CHANNELS, assertCode, assertSeededAndReplayable, makeImage, pixelAt } from './fixtures.ts';

const W = 41;
const H = 27;
const size = { width: W, height: H };
const inside = (boxes: Box[], x: number, y: number) => boxes.some(([x1, y1, x2, y2]) => x >= x1 && x < x2 && y >= y1 && y < y2);

for (const channels of CHANNELS) {
  for (const fill of ['black', '#ff800080']) {
    test(`cutout holes are exactly the fill where the boxes say, untouched elsewhere (${channels} channels, ${fill})`, async () => {
      const image = await makeImage(W, H, channels);
      const resolved = cutout.sample(createRng(7), size, { holes: 3, size: 9, fill }, {});
      assert.equal(resolved.boxes.length, 3);
      const out = await cutout.apply(image, resolved, {});
      const pixel = [...colourPixel(parseColour(fill, 'fill'), channels)];
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          assert.deepEqual(pixelAt(out, x, y), inside(resolved.boxes, x, y) ? pixel : pixelAt(image, x, y), `(${x}, ${y})`);
        }
      }
    });
  }
}

test('cutout squares are clipped at the border, never larger than the size, centres everywhere', () => {
  const side = 10;
  let clipped = 0;
  for (let seed = 0; seed < 500; seed++) {
    const { boxes } = cutout.sample(createRng(seed), size, { holes: 2, size: side }, {});
    for (const [x1, y1, x2, y2] of boxes) {
      assert.ok(x1 >= 0 && y1 >= 0 && x2 <= W && y2 <= H && x1 < x2 && y1 < y2, JSON.stringify([x1, y1, x2, y2]));
      const full = x2 - x1 === side && y2 - y1 === side;
      const atBorder = x1 === 0 || y1 === 0 || x2 === W || y2 === H;
      assert.ok(full || atBorder, 'a hole is only cut short by the border');
      if (!full) clipped++;
    }
  }
  assert.ok(clipped > 0);
});

test('cutout size defaults to size_ratio 0.25 of the shorter side', () => {
  const { boxes } = cutout.sample(createRng(0), { width: 400, height: 200 }, { fill: 'white' }, {});
  assert.equal(boxes.length, 1);
  const [x1, y1, x2, y2] = boxes[0]!;
  assert.ok(x2 - x1 <= 50 && y2 - y1 <= 50);
  const ratio = cutout.sample(createRng(0), { width: 400, height: 200 }, { size_ratio: 0.1, holes: 4 }, {});
  for (const [a, , c] of ratio.boxes) assert.ok(c - a <= 20);
});

test('cutout uses replayed boxes as they are', async () => {
  const boxes: Box[] = [[0, 0, 3, 3], [W - 1, H - 1, W, H], [5, 5, 5, 9]];
  assert.deepEqual(cutout.sample(createRng(0), size, { boxes, holes: 5 }, {}), { boxes, fill: '#000000' });
});

test('cutout: same seed, same bytes; resolved parameters replay', async () => {
  await assertSeededAndReplayable(cutout, await makeImage(W, H, 4), { holes: 4, fill: '#0f0' });
  await assertSeededAndReplayable(cutout, await makeImage(W, H, 1), { size_ratio: 0.6 });
});

test('cutout rejects boxes outside this image (422) and malformed ones (400)', () => {
  const cases: Array<[unknown, string]> = [
    [[[0, 0, W + 1, 3]], 'AUG_IMPOSSIBLE_PARAM'],
    [[[-1, 0, 3, 3]], 'AUG_IMPOSSIBLE_PARAM'],
    [[[4, 0, 3, 3]], 'AUG_INVALID_PARAM'],
    [[[0, 0, 3]], 'AUG_INVALID_PARAM'],
    [[[0, 0, 3, 2.5]], 'AUG_INVALID_PARAM'],
  ];
  for (const [boxes, code] of cases) {
    assertCode(() => cutout.sample(createRng(0), size, { boxes: boxes as number[][] }, {}), code);
  }
  assertCode(() => cutout.sample(createRng(0), size, { size: 0 }, {}), 'AUG_INVALID_PARAM');
  assertCode(() => cutout.sample(createRng(0), size, { fill: 'teal' }, {}), 'AUG_INVALID_PARAM');
});
