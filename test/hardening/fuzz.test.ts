import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { componentSchema } from '../../services/shared/openapi.ts';
import type { Part } from '../../scripts/make-hostile-corpus.ts';
import { checkProperty } from '../helpers/fuzz.ts';
import { toFormData } from './support.ts';

/**
 * Property: whatever the fields and whatever the bytes, an upload endpoint answers 200 with a
 * decodable image or a documented 4xx as problem+json; never a 5xx, never a hang.
 * Runs with a fixed seed (printed; `FUZZ_SEED` changes it, `FUZZ_RUNS` scales the runs); a failure
 * prints the shrunk counterexample and the command that replays it.
 */
const FILE = 'test/hardening/fuzz.test.ts';
const OPS = ['flip', 'rotate', 'crop', 'scale', 'cutout', 'cutmix', 'pipeline', 'affine', 'perspective', 'brightness', 'contrast', 'saturation', 'hue', 'color_jitter', 'sharpness', 'gamma', 'posterize', 'solarize', 'equalize', 'autocontrast', 'invert', 'grayscale', 'gaussian_blur', 'gaussian_noise', 'jpeg', 'erase', 'mixup', 'mosaic', 'autoaugment', 'randaugment', 'trivialaugment', 'augmix'] as const;
type Op = (typeof OPS)[number];
const PARAM_SCHEMAS = componentSchema('PipelineStep')['x-params-by-op'] as Record<Exclude<Op, 'pipeline'>, string>;
const OUTPUT_FIELDS = Object.keys(componentSchema('OutputFields').properties!);
const fieldsOf = (op: Exclude<Op, 'pipeline'>) => Object.keys(componentSchema(PARAM_SCHEMAS[op]).properties!);

/** Text that tends to break parsers: non-finite numbers, lists, JSON, prototype names. */
const garbage = fc.oneof(
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '', ' ', '1e309', '-0', '0x1f', '1e-320', '1,', ',', '1,2,3', '[1,2]', '[[1,2,3,4]]', '[[0,0,1e9,1]]', 'null', 'true', 'false', '{}', '[]', '__proto__', 'constructor', '#12345', '#fff', 'red', 'random', 'none', 'both', 'jpeg', 'avif'),
  fc.string({ maxLength: 24 }),
  fc.json({ depthSize: 'small' }),
  fc.double().map(String),
);
/** Values in or near the documented bounds, so that many requests get through to the pixels. */
const plausible = fc.oneof(
  fc.integer({ min: -5, max: 80 }).map(String),
  fc.double({ min: -400, max: 400, noNaN: true }).map((v) => v.toFixed(3)),
  fc.double({ min: 0, max: 1.2, noNaN: true }).map(String),
  fc.tuple(fc.double({ min: -40, max: 40, noNaN: true }), fc.double({ min: -40, max: 40, noNaN: true })).map(([a, b]) => `${Math.min(a, b)},${Math.max(a, b)}`),
  fc.tuple(fc.double({ min: 0.01, max: 3, noNaN: true }), fc.double({ min: 0.01, max: 3, noNaN: true })).map(([a, b]) => `${a},${b}`),
  fc.tuple(fc.nat(40), fc.nat(40), fc.nat(40), fc.nat(40)).map(([a, b, c, d]) => `[[${Math.min(a, c)},${Math.min(b, d)},${Math.max(a, c)},${Math.max(b, d)}]]`),
  fc.constantFrom('true', 'false', 'black', '#808080', '#ff000080', 'horizontal', 'vertical', 'random', 'png', 'jpeg', 'webp'),
);
const value = fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 1, arbitrary: garbage });

/** `arbitrary` one time in `every`, null otherwise (fc.option's `freq` is the other way round). */
function sometimes<T>(arbitrary: fc.Arbitrary<T>, every: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: every - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });
}

/** Some of the op's fields (and sometimes a stray one), each with a plausible or a garbage value. */
function fieldsFor(names: string[]) {
  // Operations without fields of their own (equalize) have fewer than four to choose from.
  const choices = [...names, ...OUTPUT_FIELDS];
  return fc
    .tuple(fc.subarray(choices, { maxLength: Math.min(4, choices.length) }), sometimes(fc.constantFrom('bogus', 'angel', '__proto__'), 10))
    .chain(([chosen, stray]) => fc.tuple(...[...chosen, ...(stray ? [stray] : [])].map((name) => fc.tuple(fc.constant(name), value))))
    .map((pairs) => pairs.filter(([name, v]) => !(name === 'format' && v === 'avif'))); // AVIF encoding is slow; covered by the corpus
}

const step = fc.oneof(
  ...(Object.keys(PARAM_SCHEMAS) as Array<Exclude<Op, 'pipeline'>>).map((op) =>
    fc.record({ op: fc.constant(op), p: fc.option(fc.double({ min: -0.5, max: 1.5, noNaN: true }), { nil: undefined }), fields: fieldsFor(fieldsOf(op)) }),
  ),
  fc.record({ op: fc.constantFrom('blur', '', 'constructor'), p: fc.constant(undefined), fields: fc.constant([] as Array<[string, string]>) }),
);
const ops = fc.oneof(
  { weight: 5, arbitrary: fc.array(step, { minLength: 1, maxLength: 4 }).map((steps) => JSON.stringify(steps.map(({ op, p, fields }) => ({ op, ...(p === undefined ? {} : { p }), ...Object.fromEntries(fields.map(([k, v]) => [k, jsonish(v)])) })))) },
  { weight: 1, arbitrary: garbage },
);
/** A field's text as it would appear inside a JSON step: numbers as numbers, the rest as strings. */
function jsonish(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

describe('fuzzing augment (fast-check)', () => {
  let app: FastifyInstance;
  let seeds: Buffer[];
  let documented: Set<string>;
  let counts: Record<string, number>;

  before(async () => {
    // Outputs are capped low so that random sizes stay fast; the limit's own answer is a 400.
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', MAX_OUTPUT_PIXELS: '250000', MAX_INPUT_PIXELS: '1000000' }));
    const base = sharp({ create: { width: 24, height: 16, channels: 4, background: { r: 200, g: 40, b: 90, alpha: 0.7 } } }).composite([
      { input: { create: { width: 8, height: 8, channels: 3, background: '#0a0' } }, left: 3, top: 2 },
    ]);
    seeds = await Promise.all([
      base.clone().png().toBuffer(),
      base.clone().jpeg().toBuffer(),
      base.clone().webp().toBuffer(),
      base.clone().gif().toBuffer(),
      base.clone().png({ palette: true }).toBuffer(),
    ]);
    documented = new Set(componentSchema('Problem').properties!.code!.enum as string[]);
    counts = {};
  });
  after(() => app.close());

  async function judge(op: string, parts: Part[]): Promise<void> {
    const res = await app.inject({ method: 'POST', url: `/v1/augment/${op}`, body: toFormData(parts) });
    const key = res.statusCode === 200 ? '200' : `${res.statusCode} ${res.json().code}`;
    if (process.env.FUZZ_DEBUG && res.statusCode !== 200) console.log(op, res.json().detail);
    counts[key] = (counts[key] ?? 0) + 1;
    assert.ok(res.statusCode < 500, `${res.statusCode}: ${res.body.slice(0, 300)}`);
    if (res.statusCode === 200) {
      // A pipeline with count > 1 answers JSON (documented): every variant's image must decode.
      const images = /^application\/json/.test(String(res.headers['content-type']))
        ? (res.json().variants as Array<{ image: string; width: number; height: number }>).map((v) => ({ bytes: Buffer.from(v.image, 'base64'), width: v.width, height: v.height }))
        : [{ bytes: res.rawPayload, width: undefined, height: undefined }];
      if (images.length === 1 && images[0]!.width === undefined) assert.match(String(res.headers['content-type']), /^image\//);
      assert.ok(images.length > 0, 'a JSON answer without variants');
      for (const image of images) {
        const { info } = await sharp(image.bytes).raw().toBuffer({ resolveWithObject: true });
        assert.ok(info.width > 0 && info.height > 0);
        if (image.width !== undefined) assert.deepEqual([info.width, info.height], [image.width, image.height], 'variant size as stated');
      }
      return;
    }
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    const body = res.json();
    assert.ok(documented.has(body.code), `undocumented code ${body.code}`);
    assert.ok(res.statusCode >= 400 && res.statusCode < 500 && body.status === res.statusCode);
  }

  /** Bit flips, truncations and splices of the valid seeds. */
  const mutated = fc
    .record({
      seed: fc.nat(4),
      other: fc.nat(4),
      flips: fc.array(fc.tuple(fc.nat(), fc.nat(7)), { maxLength: 6 }),
      cut: sometimes(fc.double({ min: 0.02, max: 0.999, noNaN: true }), 3),
      splice: sometimes(fc.tuple(fc.double({ min: 0.05, max: 0.95, noNaN: true }), fc.double({ min: 0.05, max: 0.95, noNaN: true })), 4),
    })
    .map(({ seed, other, flips, cut, splice }) => ({ seed, other, flips, cut, splice }));

  function mutate(m: { seed: number; other: number; flips: Array<[number, number]>; cut: number | null; splice: [number, number] | null }): Buffer {
    let bytes = Buffer.from(seeds[m.seed]!);
    if (m.splice) {
      const donor = seeds[m.other]!;
      bytes = Buffer.concat([bytes.subarray(0, Math.floor(bytes.length * m.splice[0])), donor.subarray(Math.floor(donor.length * m.splice[1]))]);
    }
    for (const [at, bit] of m.flips) if (bytes.length > 0) bytes[at % bytes.length]! ^= 1 << bit;
    if (m.cut !== null) bytes = bytes.subarray(0, Math.floor(bytes.length * m.cut));
    return bytes;
  }

  const file = (name: string, bytes: Buffer): Part => ({ name, value: bytes, filename: `${name}.bin` });

  test('random parameters for every operation', async (t) => {
    const request = fc.oneof(
      ...(Object.keys(PARAM_SCHEMAS) as Array<Exclude<Op, 'pipeline'>>).map((op) => fc.record({ op: fc.constant<Op>(op), fields: fieldsFor(fieldsOf(op)), seed: fc.nat(4) })),
      fc.record({ op: fc.constant<Op>('pipeline'), fields: fc.tuple(ops, fieldsFor(['count'])).map(([o, rest]) => [['ops', o] as [string, string], ...rest]), seed: fc.nat(4) }),
    );
    await checkProperty(
      t,
      FILE,
      fc.asyncProperty(request, async ({ op, fields, seed }) => {
        const mixes = op === 'mosaic' ? 3 : op === 'cutmix' || op === 'mixup' || op === 'pipeline' ? 1 : 0;
        const parts = [file('image', seeds[seed]!), ...Array.from({ length: mixes }, (_, k) => file('mix_image', seeds[(seed + 1 + k) % seeds.length]!))];
        await judge(op, [...parts, ...fields.map(([name, v]) => ({ name, value: v }))]);
      }),
      1500,
    );
    t.diagnostic(`answers: ${JSON.stringify(counts)}`);
  });

  test('mutated image bytes (bit flips, truncations, splices of PNG/JPEG/WebP/GIF)', async (t) => {
    counts = {};
    await checkProperty(
      t,
      FILE,
      fc.asyncProperty(mutated, fc.constantFrom<Op>('flip', 'rotate', 'cutmix', 'pipeline', 'affine', 'perspective', 'color_jitter', 'equalize'), fc.boolean(), async (m, op, asMix) => {
        const bytes = mutate(m);
        const usual: Record<Op, Part[]> = {
          flip: [],
          rotate: [{ name: 'angle', value: '30' }],
          crop: [],
          scale: [],
          cutout: [],
          cutmix: [file('mix_image', seeds[0]!)],
          pipeline: [{ name: 'ops', value: '[{"op":"scale","factor":1.5},{"op":"cutout"}]' }],
          affine: [{ name: 'angle', value: '30' }],
          perspective: [],
          brightness: [],
          contrast: [],
          saturation: [],
          hue: [],
          color_jitter: [],
          sharpness: [],
          gamma: [],
          posterize: [],
          solarize: [],
          equalize: [],
          autocontrast: [],
          invert: [],
          grayscale: [],
          gaussian_blur: [],
          gaussian_noise: [],
          jpeg: [],
          erase: [],
          mixup: [file('mix_image', seeds[0]!)],
          mosaic: [file('mix_image', seeds[0]!), file('mix_image', seeds[0]!), file('mix_image', seeds[0]!)],
          autoaugment: [],
          randaugment: [],
          trivialaugment: [],
          augmix: [],
        };
        const parts = op === 'cutmix' && asMix ? [file('image', seeds[0]!), file('mix_image', bytes)] : [file('image', bytes), ...usual[op]];
        await judge(op, parts);
      }),
      1500,
    );
    t.diagnostic(`answers: ${JSON.stringify(counts)}`);
  });
});
