import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildAugmentApp } from '../../../services/augment/app.ts';
import { readAugmentConfig } from '../../../services/augment/config.ts';
import { autoAugmentPolicy, autoaugment, AUTOAUGMENT_POLICIES } from '../../../services/augment/ops/policies/autoaugment.ts';
import { augmix } from '../../../services/augment/ops/policies/augmix.ts';
import { randaugment } from '../../../services/augment/ops/policies/randaugment.ts';
import {
  augMixSpace,
  autoAugmentSpace,
  randAugmentSpace,
  wideSpace,
  type Space,
  type SubOp,
} from '../../../services/augment/ops/policies/table.ts';
import { trivialaugment } from '../../../services/augment/ops/policies/trivialaugment.ts';
import { createRng } from '../../../services/augment/random.ts';
import { form } from '../../helpers/form.ts';
import { makeTar, readTar } from '../../helpers/tar.ts';
import {
  TORCHVISION_FIXTURES,
  assertCloseToTorchvision,
  decodeRaw,
  expectedBytes,
  inputBytes,
  torchvisionCases,
} from '../../helpers/torchvision.ts';
import { decodeMask, greyPng, paintBoxes, regionBox } from '../targets-support.ts';

const SIZE = { width: 96, height: 72 };
const SEEDS = 3000;

type Table = Record<string, [number[] | null, boolean]>;
const TABLES = JSON.parse(readFileSync(join(TORCHVISION_FIXTURES, 'policies', 'tables.json'), 'utf8')) as Record<string, Table>;

function asTable(space: Space): Table {
  return Object.fromEntries(space.map((e) => [e.name, [e.bins ? [...e.bins] : null, e.signed]]));
}

describe('magnitude tables equal torchvision\'s _augmentation_space', () => {
  for (const [key, table] of Object.entries(TABLES)) {
    test(key, () => {
      const [policy, a, b] = key.split('/') as [string, string, string | undefined];
      const size = (text: string) => {
        const [width, height] = text.split('x').map(Number) as [number, number];
        return { width, height };
      };
      const ours =
        policy === 'randaugment'
          ? randAugmentSpace(Number(a), size(b!))
          : policy === 'autoaugment'
            ? autoAugmentSpace(size(b!))
            : policy === 'augmix'
              ? augMixSpace(size(b!), a === 'true')
              : wideSpace(Number(a));
      // Same names in the same order (draws index into it), same float32 values.
      assert.deepEqual(Object.keys(asTable(ours)), Object.keys(table));
      assert.deepEqual(asTable(ours), table);
    });
  }
});

/** Every op's magnitudes seen, by name: the absolute values and the signs. */
function tally(opsLists: SubOp[][]) {
  const seen = new Map<string, { abs: Set<number>; negative: boolean; positive: boolean }>();
  for (const ops of opsLists) {
    for (const { name, magnitude } of ops) {
      const entry = seen.get(name) ?? { abs: new Set(), negative: false, positive: false };
      entry.abs.add(Math.abs(magnitude));
      if (magnitude < 0) entry.negative = true;
      if (magnitude > 0) entry.positive = true;
      seen.set(name, entry);
    }
  }
  return seen;
}

function assertFromSpace(space: Space, seen: ReturnType<typeof tally>, allowedBins: (bins: readonly number[]) => readonly number[], label: string) {
  assert.deepEqual([...seen.keys()].sort(), space.map((e) => e.name).sort(), `${label}: every op of the space drawn`);
  for (const entry of space) {
    const s = seen.get(entry.name)!;
    const allowed = entry.bins ? allowedBins(entry.bins) : [0];
    for (const v of s.abs) assert.ok(allowed.includes(v), `${label}: ${entry.name} magnitude ${v} is not one of the table's ${allowed}`);
    if (entry.signed) assert.ok(s.negative && s.positive, `${label}: ${entry.name} drawn with both signs`);
    else assert.ok(!s.negative, `${label}: ${entry.name} never negative`);
  }
}

describe(`sampling over ${SEEDS} seeds (seeds 0..${SEEDS - 1})`, () => {
  test('randaugment: num_ops uniform picks from the 14, all at bin `magnitude`, both signs', () => {
    const lists = Array.from({ length: SEEDS }, (_, seed) => randaugment.sample(createRng(seed), SIZE, { num_ops: 3, magnitude: 12 }, {}).ops);
    assert.ok(lists.every((ops) => ops.length === 3));
    assertFromSpace(randAugmentSpace(31, SIZE), tally(lists), (bins) => [bins[12]!], 'randaugment');
    const none = randaugment.sample(createRng(1), SIZE, { num_ops: 0 }, {});
    assert.deepEqual(none.ops, []);
  });

  test('trivialaugment: one op of the wide space at a uniform bin, both signs', () => {
    const lists = Array.from({ length: SEEDS }, (_, seed) => trivialaugment.sample(createRng(seed), SIZE, {}, {}).ops);
    assert.ok(lists.every((ops) => ops.length === 1));
    const seen = tally(lists);
    assertFromSpace(wideSpace(31), seen, (bins) => bins, 'trivialaugment');
    // Many distinct bins of a signed op: the bin is drawn, not fixed.
    assert.ok(seen.get('Rotate')!.abs.size >= 20, `Rotate bins seen: ${seen.get('Rotate')!.abs.size}`);
  });

  for (const policy of AUTOAUGMENT_POLICIES) {
    test(`autoaugment ${policy}: the sub-policies' ops at their bins, each with its probability`, () => {
      const lists = Array.from({ length: SEEDS }, (_, seed) => autoaugment.sample(createRng(seed), SIZE, { policy }, {}).ops);
      const space = new Map(autoAugmentSpace(SIZE).map((e) => [e.name, e]));
      const steps = autoAugmentPolicy(policy).flat();
      const named = new Set(steps.filter(([, p]) => p > 0).map(([name]) => name));
      const seen = tally(lists);
      assert.deepEqual([...seen.keys()].sort(), [...named].sort(), 'every op with p > 0 drawn, none other');
      for (const [name, s] of seen) {
        const entry = space.get(name as SubOp['name'])!;
        const allowed = steps.filter(([n]) => n === name).map(([, , bin]) => (bin === null || !entry.bins ? 0 : entry.bins[bin]!));
        for (const v of s.abs) assert.ok(allowed.includes(v), `${name} magnitude ${v} not among ${allowed}`);
        if (entry.signed) assert.ok(s.negative && s.positive, `${name} drawn with both signs`);
      }
      // An always-applied step (p = 1) appears whenever its sub-policy is drawn, so the counts carry the probabilities:
      // the mean number of applied ops is the mean of the sub-policies' p sums.
      const expectedOps = autoAugmentPolicy(policy).reduce((sum, [[, p1], [, p2]]) => sum + p1 + p2, 0) / 25;
      const meanOps = lists.reduce((sum, ops) => sum + ops.length, 0) / SEEDS;
      assert.ok(Math.abs(meanOps - expectedOps) < 0.05, `mean applied ops ${meanOps}, expected ${expectedOps}`);
    });
  }

  test('augmix: chains of 1-3 ops from its space within `severity` bins; Dirichlet weights and a Beta pair summing to 1', () => {
    const severity = 4;
    const resolved = Array.from({ length: SEEDS / 3 }, (_, seed) => augmix.sample(createRng(seed), SIZE, { severity }, {}));
    const chains = resolved.flatMap((r) => r.chains);
    assertFromSpace(augMixSpace(SIZE, true), tally(chains), (bins) => bins.slice(0, severity), 'augmix');
    assert.deepEqual([...new Set(chains.map((c) => c.length))].sort(), [1, 2, 3]);
    for (const r of resolved) {
      assert.equal(r.chains.length, 3);
      assert.ok(Math.abs(r.weights.reduce((a, b) => a + b, 0) - 1) < 1e-12);
      assert.ok(Math.abs(r.mixing[0] + r.mixing[1] - 1) < 1e-12 && r.mixing[0] >= 0 && r.mixing[0] <= 1);
    }
    // Beta(1, 1) is uniform: its mean is 1/2.
    const mean = resolved.reduce((s, r) => s + r.mixing[0], 0) / resolved.length;
    assert.ok(Math.abs(mean - 0.5) < 0.03, `mean m0 ${mean}`);
    const fixed = augmix.sample(createRng(3), SIZE, { chain_depth: 5, mixture_width: 2, all_ops: false }, {});
    assert.deepEqual(fixed.chains.map((c) => c.length), [5, 5]);
    assert.ok(fixed.chains.flat().every((op) => !['Brightness', 'Color', 'Contrast', 'Sharpness'].includes(op.name)));
  });
});

/** Each field as multipart text: lists and objects as JSON. */
function fields(params: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]));
}

describe('policies over HTTP', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
  });
  after(() => app.close());

  const post = (op: string, parts: Record<string, string | Buffer>, accept?: string) =>
    app.inject({ method: 'POST', url: `/v1/augment/${op}`, body: form(parts), ...(accept ? { headers: { accept } } : {}) });

  describe('recorded ops replayed equal torchvision\'s _apply_op (fixtures group policies)', () => {
    for (const c of torchvisionCases('policies')) {
      test(`${c.name} (${c.tolerance})`, async () => {
        const res = await post(c.op, { image: inputBytes(c.input), format: 'png', ...fields(c.params) });
        assert.equal(res.statusCode, 200, res.body);
        const d = assertCloseToTorchvision(await decodeRaw(res.rawPayload), await decodeRaw(expectedBytes('policies', c.name)), c.tolerance, c.name);
        console.log(`# ${c.name}: mean |difference| ${d.mean.toFixed(4)}, ${(d.share * 100).toFixed(2)} % over tolerance, max ${d.max}`);
      });
    }
  });

  test('each policy: same seed, same bytes; the applied params sent back give the same bytes', async () => {
    const image = inputBytes('photo');
    for (const op of ['autoaugment', 'randaugment', 'trivialaugment', 'augmix']) {
      for (const seed of [1, 2, 3]) {
        const first = await post(op, { image, seed: String(seed), format: 'png' });
        const again = await post(op, { image, seed: String(seed), format: 'png' });
        assert.equal(first.statusCode, 200, first.body);
        assert.deepEqual(again.rawPayload, first.rawPayload);
        const applied = JSON.parse(first.headers['x-augment-params'] as string);
        assert.equal(applied.op, op);
        const replay = await post(op, { image, seed: '999', format: 'png', ...fields(applied.params) });
        assert.equal(replay.statusCode, 200, replay.body);
        assert.deepEqual(replay.rawPayload, first.rawPayload, `${op} seed ${seed} replay of ${JSON.stringify(applied.params)}`);
        assert.deepEqual(JSON.parse(replay.headers['x-augment-params'] as string).params, applied.params);
      }
    }
  });

  test('a policy is a step of the pipeline and of the shard, replayable there', async () => {
    const image = inputBytes('photo');
    const steps = [{ op: 'randaugment', num_ops: 3 }, { op: 'trivialaugment' }, { op: 'augmix', mixture_width: 2 }, { op: 'autoaugment', policy: 'svhn' }];
    const res = await post('pipeline', { image, seed: '4', format: 'png', ops: JSON.stringify(steps) });
    assert.equal(res.statusCode, 200, res.body);
    const { applied } = JSON.parse(res.headers['x-augment-params'] as string);
    assert.deepEqual(applied.map((s: { op: string }) => s.op), steps.map((s) => s.op));
    assert.equal(applied[0].params.ops.length, 3);
    const replay = await post('pipeline', { image, seed: '5', format: 'png', ops: JSON.stringify(applied.map((s: { op: string; params: object }) => ({ op: s.op, ...s.params }))) });
    assert.equal(replay.statusCode, 200, replay.body);
    assert.deepEqual(replay.rawPayload, res.rawPayload);

    const q = new URLSearchParams({ ops: JSON.stringify([{ op: 'randaugment', num_ops: 2, magnitude: 15 }]), seed: '7', variants: '2' }).toString();
    const tar = await makeTar([{ name: 'a.png', data: image }, { name: 'b.png', data: inputBytes('grey') }]);
    const shard = await app.inject({ method: 'POST', url: `/v1/augment/shard?${q}`, headers: { 'content-type': 'application/x-tar' }, body: tar });
    assert.equal(shard.statusCode, 200, shard.body);
    const members = await readTar(shard.rawPayload);
    const info = JSON.parse(members.find((m) => m.name === 'b.v1.json')!.data.toString());
    assert.equal(info.applied[0].op, 'randaugment');
    assert.equal(info.applied[0].params.ops.length, 2);
    // The shard's sample is the pipeline route's work with the sample's seed.
    const single = await post('pipeline', { image: inputBytes('grey'), seed: String(info.seed), ops: JSON.stringify([{ op: 'randaugment', num_ops: 2, magnitude: 15 }]) });
    assert.deepEqual(single.rawPayload, members.find((m) => m.name === 'b.v1.png')!.data);
    // A bad policy step refuses the whole shard.
    const bad = new URLSearchParams({ ops: JSON.stringify([{ op: 'randaugment', magnitude: 31 }]), seed: '7' }).toString();
    const refused = await app.inject({ method: 'POST', url: `/v1/augment/shard?${bad}`, headers: { 'content-type': 'application/x-tar' }, body: tar });
    assert.equal(refused.statusCode, 400, refused.body);
    assert.match(refused.json().detail, /ops\[0\].*magnitude/);
    assert.equal(refused.json().param, 'ops[0].magnitude');
  });

  describe('boxes and masks move with the geometric sub-operations (mask painted from the box agrees with the box within 2 px)', () => {
    const [W, H] = [64, 48];
    const boxes = [[14, 10, 34, 26], [40, 20, 52, 40]];
    const cases: Array<[string, SubOp[], string]> = [
      ['ShearX', [{ name: 'ShearX', magnitude: 0.3 }], 'nearest'],
      ['ShearX negative', [{ name: 'ShearX', magnitude: -0.25 }], 'bilinear'],
      ['ShearY', [{ name: 'ShearY', magnitude: -0.3 }], 'nearest'],
      ['TranslateX', [{ name: 'TranslateX', magnitude: -9.7 }], 'nearest'],
      ['TranslateY', [{ name: 'TranslateY', magnitude: 7.9 }], 'nearest'],
      ['Rotate', [{ name: 'Rotate', magnitude: 27 }], 'nearest'],
      ['Rotate wide', [{ name: 'Rotate', magnitude: -130.5 }], 'bilinear'],
      ['a geometric chain', [{ name: 'Rotate', magnitude: 20 }, { name: 'ShearX', magnitude: 0.2 }, { name: 'TranslateY', magnitude: -4 }, { name: 'ShearY', magnitude: -0.1 }], 'nearest'],
      ['a chain', [{ name: 'ShearY', magnitude: 0.1 }, { name: 'Equalize', magnitude: 0 }, { name: 'Rotate', magnitude: -12 }, { name: 'TranslateX', magnitude: 5 }, { name: 'ShearX', magnitude: -0.2 }], 'nearest'],
    ];
    for (const [label, ops, interpolation] of cases) {
      test(label, async () => {
        const painted = paintBoxes(W, H, boxes.map((box, i) => ({ box, value: 100 + 100 * i })));
        const res = await post('randaugment', {
          image: await greyPng(painted, W, H),
          mask: await greyPng(painted, W, H),
          bboxes: JSON.stringify(boxes),
          ops: JSON.stringify(ops),
          interpolation,
          format: 'png',
        });
        assert.equal(res.statusCode, 200, res.body);
        const answer = res.json();
        const mask = await decodeMask(answer.targets.masks[0]);
        const image = await decodeMask(answer.image);
        for (const [i, value] of [100, 200].entries()) {
          const region = regionBox(mask, (v) => v === value);
          const box = answer.targets.bboxes[i] as number[];
          assert.ok(region, `box ${i}: mask region kept`);
          box.forEach((v, k) => assert.ok(Math.abs(v - region![k]!) <= 2, `${label} box ${i}: returned ${box.map((x) => x.toFixed(2))}, mask region ${region}`));
          // And the image's pixels went where the mask went: exactly for one nearest resampling; a chain
          // resamples the image once per sub-operation (as torchvision) and the mask once by the composed map.
          if (interpolation === 'nearest' && ops.every((op) => op.name !== 'Equalize')) {
            const pixels = regionBox(image, (v) => v === value)!;
            if (ops.length === 1) assert.deepEqual(pixels, region);
            else pixels.forEach((v, k) => assert.ok(Math.abs(v - region![k]!) <= 2, `${label} box ${i}: image region ${pixels}, mask region ${region}`));
          }
        }
      });
    }
    test('augmix leaves the targets where they are (the original is always in the mix)', async () => {
      const painted = paintBoxes(W, H, [{ box: boxes[0]!, value: 255 }]);
      const res = await post('augmix', { image: await greyPng(painted, W, H), bboxes: JSON.stringify([boxes[0]]), seed: '3' });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json().targets.bboxes, [boxes[0]]);
    });
  });

  describe('bad input is a 400 naming the field', () => {
    const bad: Array<[string, Record<string, string>, RegExp]> = [
      ['autoaugment', { policy: 'coco' }, /policy/],
      ['autoaugment', { interpolation: 'bicubic' }, /interpolation/],
      ['randaugment', { magnitude: '31' }, /magnitude/],
      ['randaugment', { magnitude: '5', num_magnitude_bins: '5' }, /magnitude/],
      ['randaugment', { magnitude: '-1' }, /magnitude/],
      ['randaugment', { num_ops: '-1' }, /num_ops/],
      ['randaugment', { num_ops: '1000000' }, /num_ops/],
      ['randaugment', { num_magnitude_bins: '1' }, /num_magnitude_bins/],
      ['randaugment', { ops: '[{"name":"Mosaic","magnitude":1}]' }, /ops\[0\]\[name\]/],
      ['randaugment', { ops: '[{"name":"Rotate","magnitude":1},{"name":"Posterize","magnitude":9}]' }, /ops\[1\]\.magnitude/],
      ['randaugment', { ops: '[{"name":"ShearX","magnitude":2}]' }, /ops\[0\]\.magnitude/],
      ['randaugment', { ops: '[{"name":"Rotate"' }, /ops/],
      ['trivialaugment', { ops: '[{"name":"Rotate","magnitude":10,"extra":1}]' }, /extra/],
      ['trivialaugment', { fill: 'purple' }, /fill/],
      ['augmix', { severity: '0' }, /severity/],
      ['augmix', { severity: '11' }, /severity/],
      ['augmix', { mixture_width: '0' }, /mixture_width/],
      ['augmix', { chain_depth: '-2' }, /chain_depth/],
      ['augmix', { alpha: '0' }, /alpha/],
      ['augmix', { chains: '[[{"name":"Rotate","magnitude":3}]]' }, /weights/],
      ['augmix', { chains: '[[{"name":"Rotate","magnitude":3}]]', weights: '0.5', mixing: '0.5,0.5' }, /weights/],
      ['augmix', { chains: '[[{"name":"Blur","magnitude":3}]]', weights: '1', mixing: '0.5,0.5' }, /chains\[0\]\[0\]\[name\]/],
      ['augmix', { chains: '[[{"name":"Rotate","magnitude":3}]]', weights: '1', mixing: '0.7,0.7' }, /mixing/],
    ];
    for (const [op, params, field] of bad) {
      test(`${op} ${JSON.stringify(params)}`, async () => {
        const res = await post(op, { image: inputBytes('grey'), ...params });
        assert.equal(res.statusCode, 400, res.body);
        const problem = res.json();
        assert.match(problem.code, /^AUG_INVALID_(PARAM|REQUEST|RANGE)$/);
        assert.match(problem.detail ?? problem.message, field);
      });
    }
    test('in the pipeline too, naming the step', async () => {
      const res = await post('pipeline', { image: inputBytes('grey'), ops: JSON.stringify([{ op: 'flip' }, { op: 'augmix', severity: 12 }]) });
      assert.equal(res.statusCode, 400, res.body);
      assert.match(res.json().detail, /ops\[1\]\.severity/);
    });
  });
});
