import assert from 'node:assert/strict';
import { test } from 'node:test';
import { colourPixel, parseColour } from '../../../services/augment/colour.ts';
import { centreFit } from '../../../services/augment/ops/raster.ts';
import { rotate } from '../../../services/augment/ops/rotate.ts';
import { expandedSize, projective, torchvisionAffine } from '../../../services/augment/ops/geometry.ts';
import { warp } from '../../../services/augment/ops/warp.ts';
import { checkOutput } from '../../../services/augment/steps.ts';
import { createRng } from '../../../services/augment/random.ts';
import { CHANNELS, assertCode, assertSameImage, assertSeededAndReplayable, makeImage, pixelAt, remap } from './fixtures.ts';

const W = 13;
const H = 9;
type Map = (x: number, y: number) => [number, number];
const quarterTurns: Array<{ angle: number; size: [number, number]; map: Map }> = [
  { angle: 0, size: [W, H], map: (x, y) => [x, y] },
  { angle: 360, size: [W, H], map: (x, y) => [x, y] },
  // Counter-clockwise: the top row becomes the left column, read bottom to top.
  { angle: 90, size: [H, W], map: (x, y) => [W - 1 - y, x] },
  { angle: -270, size: [H, W], map: (x, y) => [W - 1 - y, x] },
  { angle: 180, size: [W, H], map: (x, y) => [W - 1 - x, H - 1 - y] },
  { angle: 270, size: [H, W], map: (x, y) => [y, H - 1 - x] },
  { angle: -90, size: [H, W], map: (x, y) => [y, H - 1 - x] },
];

for (const channels of CHANNELS) {
  for (const { angle, size, map } of quarterTurns) {
    test(`rotate ${angle}° with expand is an exact transpose/flip (${channels} channels)`, async () => {
      const image = await makeImage(W, H, channels);
      const out = await rotate.apply(image, { angle, fill: '#000000', expand: true }, {});
      assertSameImage(out, remap(image, size[0], size[1], map));
    });
  }
}

test('rotate 180° without expand equals a double flip', async () => {
  const image = await makeImage(W, H, 3);
  const out = await rotate.apply(image, { angle: 180, fill: '#000000', expand: false }, {});
  assertSameImage(out, remap(image, W, H, (x, y) => [W - 1 - x, H - 1 - y]));
});

test('rotate 90° of a square image without expand is the exact transpose', async () => {
  const image = await makeImage(11, 11, 4);
  const out = await rotate.apply(image, { angle: 90, fill: '#000000', expand: false }, {});
  assertSameImage(out, remap(image, 11, 11, (x, y) => [10 - y, x]));
});

test('rotate 90° of a wide image without expand keeps the size: centre of the turn, fill beside it', async () => {
  const image = await makeImage(W, H, 3);
  const out = await rotate.apply(image, { angle: 90, fill: 'red', expand: false }, {});
  assert.deepEqual([out.width, out.height], [W, H]);
  const pad = (W - H) / 2;
  const turned = remap(image, H, W, (x, y) => [W - 1 - y, x]);
  const top = (W - H) / 2;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const expected = x < pad || x >= pad + H ? [255, 0, 0] : pixelAt(turned, x - pad, y + top);
      assert.deepEqual(pixelAt(out, x, y), expected, `(${x}, ${y})`);
    }
  }
});

for (const channels of CHANNELS) {
  test(`rotate 30° keeps the size without expand, grows with it, corners are the fill (${channels} channels)`, async () => {
    const image = await makeImage(31, 17, channels);
    const fill = '#2040c0';
    const kept = await rotate.apply(image, { angle: 30, fill, expand: false }, {});
    assert.deepEqual([kept.width, kept.height, kept.channels], [31, 17, channels]);
    const grown = await rotate.apply(image, { angle: 30, fill, expand: true }, {});
    assert.ok(grown.width > 31 && grown.height > 17, `${grown.width}x${grown.height}`);
    assert.equal(grown.channels, channels);
    const pixel = [...colourPixel(parseColour(fill, 'fill'), channels)];
    assert.deepEqual(pixelAt(grown, 0, 0), pixel);
    assert.deepEqual(pixelAt(kept, 0, 0), pixel);
    assert.deepEqual(pixelAt(kept, 30, 16), pixel);
  });
}

test('rotate with a translucent fill keeps 3 channels on RGB and uses the alpha on RGBA', async () => {
  const rgb = await rotate.apply(await makeImage(21, 15, 3), { angle: 45, fill: '#ff000080', expand: true }, {});
  assert.equal(rgb.channels, 3);
  assert.deepEqual(pixelAt(rgb, 0, 0), [255, 0, 0]);
  const rgba = await rotate.apply(await makeImage(21, 15, 4), { angle: 45, fill: '#ff000080', expand: true }, {});
  assert.deepEqual(pixelAt(rgba, 0, 0), [255, 0, 0, 128]);
});

test('rotate samples the angle inside angle_range (default [-30, 30]), a fixed angle wins', () => {
  const size = { width: W, height: H };
  for (let seed = 0; seed < 200; seed++) {
    const { angle } = rotate.sample(createRng(seed), size, {}, {});
    assert.ok(angle >= -30 && angle <= 30, String(angle));
    const narrow = rotate.sample(createRng(seed), size, { angle_range: [5, 10] }, {});
    assert.ok(narrow.angle >= 5 && narrow.angle <= 10);
  }
  assert.deepEqual(rotate.sample(createRng(0), size, { angle: 12.5, angle_range: [-1, 1] }, {}), {
    angle: 12.5,
    fill: '#000000',
    expand: false,
  });
  assert.equal(rotate.sample(createRng(0), size, { angle_range: [7, 7] }, {}).angle, 7);
});

test('rotate: same seed, same bytes; resolved parameters replay', async () => {
  await assertSeededAndReplayable(rotate, await makeImage(W, H, 4), { fill: '#abc', expand: true });
  await assertSeededAndReplayable(rotate, await makeImage(W, H, 1), { angle_range: [-90, 90] });
});

test('rotate rejects min > max and bad fills', () => {
  const size = { width: W, height: H };
  assertCode(() => rotate.sample(createRng(0), size, { angle_range: [10, -10] }, {}), 'AUG_INVALID_RANGE');
  assertCode(() => rotate.sample(createRng(0), size, { fill: 'purple' }, {}), 'AUG_INVALID_PARAM');
  assertCode(() => rotate.sample(createRng(0), size, { fill: '#12345' }, {}), 'AUG_INVALID_PARAM');
});

for (const channels of CHANNELS) {
  test(`rotate without expand is the expanded canvas's centre wherever that canvas grew by an even count (${channels} channels)`, async () => {
    const image = await makeImage(61, 37, channels);
    const colour = parseColour('#3366cc80', 'fill');
    let compared = 0;
    for (const angle of [1, -7.5, 15, 33, 45, -60, 89, 135, 200.25, 17, 23, 71]) {
      const resolved = { angle, fill: '#3366cc80', expand: false };
      const canvas = await rotate.apply(image, { ...resolved, expand: true }, {});
      // torchvision keeps the centre on the centre: an odd growth shifts the two by half a pixel.
      if ((canvas.width - image.width) % 2 !== 0 || (canvas.height - image.height) % 2 !== 0) continue;
      compared++;
      const got = await rotate.apply(image, resolved, {});
      const want = centreFit(canvas, image.width, image.height, colourPixel(colour, channels));
      // The same map up to an integer shift; floating point may move a rounding tie by one level.
      let max = 0;
      for (let i = 0; i < got.data.length; i++) max = Math.max(max, Math.abs(got.data[i]! - want.data[i]!));
      assert.ok(max <= 1, `${angle}°: max difference ${max}`);
    }
    assert.ok(compared >= 3, `only ${compared} angles grew the canvas evenly`);
  });
}

test("rotate's resampling and geometry are torchvision's turn about (W/2, H/2), on its expand canvas", () => {
  const size = { width: 61, height: 37 };
  for (const expand of [false, true]) {
    const r = rotate.resampling!({ angle: 33, fill: '#102030', expand }, size);
    const out = expand ? expandedSize(33, size) : size;
    const m = torchvisionAffine({ angle: 33, translate: [0, 0], scale: 1, shear: [0, 0], center: [30.5, 18.5] }, size, out);
    assert.deepEqual(r, { forward: projective(m), width: out.width, height: out.height, interpolation: 'bilinear', fill: '#102030' });
    assert.deepEqual(rotate.geometry({ angle: 33, fill: '#102030', expand }, size, {}).matrix, m);
  }
});

test('a quarter turn that moves pixel centres onto pixel edges (W − H odd, no expand) is bilinear, as torchvision', async () => {
  const image = await makeImage(5, 4, 3);
  const params = { angle: 90, fill: '#000000', expand: false };
  const r = rotate.resampling!(params, { width: 5, height: 4 });
  const want = warp(image, r.forward, 5, 4, { interpolation: 'bilinear', fill: new Uint8Array(3) });
  assertSameImage(await rotate.apply(image, params, {}), want);
  assert.equal(rotate.transform!(params, { width: 5, height: 4 }, { channels: 3, profiled: false }), undefined);
});

test("the output-pixel limit knows rotate's expand canvas before any pixel is computed (torchvision's 700×700 for 512×512 at 30°)", () => {
  const size = { width: 512, height: 512 };
  assert.deepEqual(checkOutput('rotate', size, { angle: 30, expand: true, fill: '#000000' }, 700 * 700), { width: 700, height: 700 });
  assertCode(() => checkOutput('rotate', size, { angle: 30, expand: true, fill: '#000000' }, 700 * 700 - 1), 'AUG_INVALID_PARAM');
  assert.deepEqual(checkOutput('rotate', size, { angle: 30, expand: false, fill: '#000000' }, 512 * 512), size);
});

// torchvision 0.14's _compute_affine_output_size for F.rotate(expand=True), [W, H, angle, W', H']:
// its float32 corners make some quarter turns a pixel wider than the swap, and doubles differ there.
const TORCHVISION_CANVASES = [
  [64, 97, 90, 98, 65],
  [98, 65, -90, 66, 99],
  [3000, 2000, -270, 2000, 3000],
  [5, 7, -90, 7, 5],
  [1, 2, 90, 3, 2],
  [16, 9, -90, 10, 17],
  [7, 640, 0.001, 9, 641],
  [4, 1920, 89.999, 1922, 6],
  [13, 9, -33, 17, 15],
  [97, 64, 17, 113, 90],
  [2000, 3000, 180, 2000, 3000],
] as const;

test("expandedSize is torchvision's float32 canvas, also where it is not the plain quarter-turn swap", () => {
  for (const [w, h, angle, ow, oh] of TORCHVISION_CANVASES) {
    assert.deepEqual(expandedSize(angle, { width: w, height: h }), { width: ow, height: oh }, `${w}x${h} at ${angle}`);
  }
});

test("a quarter turn onto torchvision's wider canvas is the warp on that canvas, not libvips' exact turn", async () => {
  const image = await makeImage(16, 9, 3);
  const params = { angle: -90, fill: '#000000', expand: true };
  const r = rotate.resampling!(params, { width: 16, height: 9 });
  assert.deepEqual([r.width, r.height], [10, 17]);
  const want = warp(image, r.forward, 10, 17, { interpolation: 'bilinear', fill: new Uint8Array(3) });
  assertSameImage(await rotate.apply(image, params, {}), want);
  assert.equal(rotate.transform!(params, { width: 16, height: 9 }, { channels: 3, profiled: false }), undefined);
});
