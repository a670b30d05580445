import assert from 'node:assert/strict';
import { test } from 'node:test';
import { homography, mapProjective } from '../../../services/augment/ops/geometry.ts';
import { perspective } from '../../../services/augment/ops/perspective.ts';
import { createRng } from '../../../services/augment/random.ts';
import { CHANNELS, assertCode, assertSameImage, assertSeededAndReplayable, makeImage } from './fixtures.ts';

const size = { width: 41, height: 30 };

test("perspective samples as RandomPerspective.get_params: the corner pixels pulled inward by whole pixels, at most distortion_scale × half the side", () => {
  const seen = new Set<string>();
  for (let seed = 0; seed < 400; seed++) {
    const { startpoints, endpoints } = perspective.sample(createRng(seed), size, { distortion_scale: 0.4 }, {});
    assert.deepEqual(startpoints, [[0, 0], [40, 0], [40, 29], [0, 29]]);
    // int(0.4 · 20) = 8 across, int(0.4 · 15) = 6 down.
    const [tl, tr, br, bl] = endpoints;
    const within = (v: number, lo: number, hi: number) => Number.isInteger(v) && v >= lo && v <= hi;
    assert.ok(within(tl[0], 0, 8) && within(tl[1], 0, 6), `top-left ${tl}`);
    assert.ok(within(tr[0], 32, 40) && within(tr[1], 0, 6), `top-right ${tr}`);
    assert.ok(within(br[0], 32, 40) && within(br[1], 23, 29), `bottom-right ${br}`);
    assert.ok(within(bl[0], 0, 8) && within(bl[1], 23, 29), `bottom-left ${bl}`);
    seen.add(`${tl[0]}`);
  }
  assert.equal(seen.size, 9, 'every top-left x from 0 to 8 drawn');
  const still = perspective.sample(createRng(1), size, { distortion_scale: 0 }, {});
  assert.deepEqual(still.endpoints, still.startpoints);
});

test('perspective with distortion_scale 0 leaves the pixels as they were', async () => {
  const image = await makeImage(41, 30, 3);
  assertSameImage(await perspective.apply(image, perspective.sample(createRng(2), size, { distortion_scale: 0, interpolation: 'nearest' }, {}), {}), image);
});

for (const channels of CHANNELS) {
  test(`perspective: same seed, same bytes; resolved parameters replay (${channels} channels)`, async () => {
    await assertSeededAndReplayable(perspective, await makeImage(23, 17, channels), { distortion_scale: 0.7, fill: '#abc', interpolation: channels % 2 ? 'nearest' : 'bilinear' });
  });
}

test('its geometry is the homography from start to end points, given to targets as `projective`', () => {
  const resolved = perspective.sample(createRng(9), size, {}, {});
  const g = perspective.geometry(resolved, size, {});
  assert.deepEqual(g.projective, homography(resolved.startpoints, resolved.endpoints));
  resolved.startpoints.forEach(([x, y], i) => {
    const [u, v] = mapProjective(g.projective!, x, y);
    assert.ok(Math.hypot(u - resolved.endpoints[i]![0], v - resolved.endpoints[i]![1]) < 1e-9);
  });
  assert.deepEqual([g.width, g.height], [41, 30]);
  assert.deepEqual(perspective.resampling!(resolved, size).forward, g.projective);
});

test('perspective refuses distortion_scale outside [0, 1], half a replay, malformed or degenerate points, unknown interpolations', () => {
  const quad = [[0, 0], [9, 0], [9, 9], [0, 9]];
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ distortion_scale: 1.5 }, 'AUG_INVALID_PARAM'],
    [{ distortion_scale: -0.1 }, 'AUG_INVALID_PARAM'],
    [{ startpoints: quad }, 'AUG_INVALID_PARAM'],
    [{ startpoints: quad, endpoints: [[0, 0], [1, 1], [2, 2], [3, 3]] }, 'AUG_INVALID_PARAM'],
    [{ startpoints: quad.slice(0, 3), endpoints: quad }, 'AUG_INVALID_PARAM'],
    [{ interpolation: 'bicubic' }, 'AUG_INVALID_PARAM'],
  ];
  for (const [params, code] of bad) assertCode(() => perspective.sample(createRng(0), size, params, {}), code);
});

test('a line of pixels (1×n, n×1) is left as it is, and its applied points replay', async () => {
  for (const [w, h] of [[1, 600], [7, 1], [1, 1]] as const) {
    const image = await makeImage(w, h, 3);
    const resolved = perspective.sample(createRng(4), { width: w, height: h }, {}, {});
    assert.deepEqual(resolved.endpoints, resolved.startpoints);
    assertSameImage(await perspective.apply(image, resolved, {}), image, `${w}×${h}`);
    assert.deepEqual(perspective.sample(createRng(0), { width: w, height: h }, JSON.parse(JSON.stringify(resolved)), {}), resolved);
  }
});
