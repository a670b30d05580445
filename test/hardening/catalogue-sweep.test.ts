/**
 * A robustness sweep of the operation catalogue through the public API: awkward but valid images
 * (1×1, 1×7, 7×1, grey, grey + alpha, RGBA, 16-bit, CMYK, EXIF-rotated, animated, ICC-tagged, one
 * large photo) × every new operation, with its defaults and the edges of its schema bounds, as
 * images, `format=npy` (both layouts), JSON, raw bodies and pipelines with targets. Every answer
 * must be a 200 of the documented size and channels, or a documented 4xx problem; never a 5xx,
 * never a hang.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import sharp from 'sharp';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { loadSpec } from '../../services/shared/openapi.ts';
import { form } from '../helpers/form.ts';
import { makeImage } from '../helpers/images.ts';
import { makeTar, readTar } from '../helpers/tar.ts';

type Fields = Record<string, string | number | boolean | Buffer | Buffer[] | undefined>;

const SEED = 7;
const PIPELINE_SEEDS = [1, 2, 3];
/** A hang is a failure of its own, not a stuck test. */
const ANSWER_WITHIN_MS = 30_000;

interface Input {
  bytes: Buffer;
  /** Displayed size (EXIF orientation applied, first frame). */
  width: number;
  height: number;
  /** Channels of the decoded upload: grey 1, grey + alpha 2, colour 3, colour + alpha 4. */
  channels: 1 | 2 | 3 | 4;
  /** Content type of an answer without `format`. */
  type: string;
}

async function inputs(): Promise<Record<string, Input>> {
  const W = 13;
  const H = 9;
  const colour = await makeImage(W, H, 'png');
  const colourRaw = await sharp(colour).raw().toBuffer();
  const greyAlpha = Buffer.alloc(W * H * 2);
  for (let i = 0; i < greyAlpha.length; i++) greyAlpha[i] = (i * 37) & 255;
  // Two frames, the second the negative of the first.
  const frames = Buffer.concat([colourRaw, Buffer.from(colourRaw.map((v) => 255 - v))]);
  const animated = { raw: { width: W, height: 2 * H, channels: 3 as const, pageHeight: H } };
  const png = 'image/png';
  return {
    '1x1': { bytes: await makeImage(1, 1, 'png'), width: 1, height: 1, channels: 3, type: png },
    '1x7': { bytes: await makeImage(1, 7, 'png'), width: 1, height: 7, channels: 3, type: png },
    '7x1': { bytes: await makeImage(7, 1, 'png'), width: 7, height: 1, channels: 3, type: png },
    grey: { bytes: await makeImage(W, H, 'png', 1), width: W, height: H, channels: 1, type: png },
    'grey+alpha': {
      bytes: await sharp(greyAlpha, { raw: { width: W, height: H, channels: 2 } }).toColourspace('b-w').png().toBuffer(),
      width: W,
      height: H,
      channels: 2,
      type: png,
    },
    rgba: { bytes: await makeImage(W, H, 'png', 4), width: W, height: H, channels: 4, type: png },
    '16-bit': { bytes: await sharp(colour).toColourspace('rgb16').png().toBuffer(), width: W, height: H, channels: 3, type: png },
    cmyk: { bytes: await sharp(colour).toColourspace('cmyk').jpeg().toBuffer(), width: W, height: H, channels: 3, type: 'image/jpeg' },
    'exif-6': { bytes: await sharp(colour).jpeg().withMetadata({ orientation: 6 }).toBuffer(), width: H, height: W, channels: 3, type: 'image/jpeg' },
    'gif-2-frames': { bytes: await sharp(frames, animated).gif().toBuffer(), width: W, height: H, channels: 4, type: png },
    'webp-2-frames': { bytes: await sharp(frames, animated).webp().toBuffer(), width: W, height: H, channels: 3, type: 'image/webp' },
    'icc-p3': { bytes: await sharp(colour).withIccProfile('p3').png().toBuffer(), width: W, height: H, channels: 3, type: png },
  };
}

/** Each operation's variants: defaults (seed only), then the edges of its schema bounds. */
function variants(mix: Buffer, dot: Buffer): Record<string, Fields[]> {
  return {
    rotate: [{}, { angle: 360 }, { angle: -33, expand: true }],
    affine: [{}, { scale: 1e-9, angle: 30 }, { shear: '89.9,-89.9' }, { translate: '65536,-65536', interpolation: 'nearest' }],
    perspective: [{}, { distortion_scale: 1 }, { distortion_scale: 1, interpolation: 'nearest' }],
    brightness: [{}, { factor: 0 }, { factor_range: '0,100' }],
    contrast: [{}, { factor: 0 }],
    saturation: [{}, { factor: 0 }],
    hue: [{}, { factor: 0.5 }, { factor: -0.5 }],
    color_jitter: [{}, { brightness: 0.9, contrast: 0.9, saturation: 0.9, hue: 0.5 }],
    sharpness: [{}, { factor: 0 }, { factor: 100 }],
    gamma: [{}, { gamma: 0.001 }],
    posterize: [{}, { bits: 1 }],
    solarize: [{}, { threshold: 0 }],
    equalize: [{}],
    autocontrast: [{}],
    invert: [{}],
    grayscale: [{}, { channels: 1 }],
    gaussian_blur: [{}, { kernel_size: 99 }, { kernel_size: 3, sigma: 100 }],
    gaussian_noise: [{}, { sigma: 255, per_channel: false }],
    jpeg: [{}, { quality: 1 }],
    erase: [{}, { scale_range: '1,1' }, { scale_range: '1,1', ratio_range: '1,1', value: 'random' }],
    autoaugment: [{}, { policy: 'cifar10' }, { policy: 'svhn' }],
    randaugment: [{}, { num_ops: 16, magnitude: 30, num_magnitude_bins: 31 }, { num_ops: 4, magnitude: 999, num_magnitude_bins: 1000 }],
    trivialaugment: [{}, { num_magnitude_bins: 2 }],
    augmix: [{}, { severity: 10, mixture_width: 16, chain_depth: 10 }, { severity: 10, alpha: 0.01, all_ops: false }],
    mixup: [{ mix_image: mix }, { mix_image: dot, lambda: 0 }],
    mosaic: [{ mix_image: [mix, mix, mix] }, { mix_image: [dot, dot, dot] }, { mix_image: [mix, dot, mix], output_width: 1, output_height: 1 }],
  };
}

/** Operations whose contract takes no raw body (several images). */
const MULTI_IMAGE = ['mixup', 'mosaic'];

/** torchvision 0.14's `F.rotate(img, angle, expand=True)` output sizes [W, H], by `WxH@angle`. */
const ROTATE_EXPANDED: Record<string, [number, number]> = {
  '13x9@-33': [17, 15],
  '9x13@-33': [15, 17],
  '1x1@-33': [3, 3],
  '1x7@-33': [5, 7],
  '7x1@-33': [7, 5],
  '3000x2000@-270': [2000, 3000],
};

/** The size a 200 must have: the input's, mosaic's canvas, or torchvision's expanded rotate canvas. */
function expectedSize(input: Input, op: string, fields: Fields): [number, number] {
  if (op === 'mosaic') return [Number(fields.output_width ?? input.width), Number(fields.output_height ?? input.height)];
  if (op === 'rotate' && fields.expand === true) {
    const key = `${input.width}x${input.height}@${fields.angle}`;
    const size = ROTATE_EXPANDED[key];
    assert.ok(size, `no torchvision size for rotate ${key}`);
    return size;
  }
  return [input.width, input.height];
}

/** Channels a 200 must decode to: the input's, except grayscale (documented: `channels` grey ones, alpha kept). */
function expectedChannels(input: Input, op: string, fields: Fields): number {
  if (op !== 'grayscale') return input.channels;
  return Number(fields.channels ?? 3) + (input.channels % 2 === 0 ? 1 : 0);
}

/** The shape of an `.npy` answer, its magic, dtype, alignment and byte length checked. */
function npyShape(payload: Buffer): number[] {
  assert.deepEqual([...payload.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 'npy magic');
  const headerLength = payload.readUInt16LE(8);
  const header = payload.subarray(10, 10 + headerLength).toString('latin1');
  assert.match(header, /'descr': '\|u1', 'fortran_order': False/);
  assert.equal((10 + headerLength) % 64, 0, 'npy data is 64-byte aligned');
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1]!.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  assert.equal(payload.length - 10 - headerLength, shape.reduce((a, b) => a * b, 1), `npy byte length for shape ${shape}`);
  return shape;
}

describe('catalogue sweep: awkward images × every new operation', () => {
  let app: FastifyInstance;
  let images: Record<string, Input>;
  let ops: Record<string, Fields[]>;
  let codes: string[];
  let mix: Buffer;

  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
    images = await inputs();
    mix = await makeImage(11, 5, 'png');
    ops = variants(mix, await makeImage(1, 1, 'png'));
    const problem = loadSpec().components?.schemas?.Problem as { properties: { code: { enum: string[] } } };
    codes = problem.properties.code.enum;
    console.log(`# catalogue sweep: seed ${SEED}, pipeline seeds ${PIPELINE_SEEDS.join(',')}`);
  });
  after(async () => {
    for (const [key, n] of refused) console.log(`# refused ${n}×: ${key}`);
    await app.close();
  });

  /** Every non-200 answer, by `status code`, for the log (and the tests' floors on refusals). */
  const refused = new Map<string, number>();

  async function send(options: InjectOptions): Promise<LightMyRequestResponse> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ANSWER_WITHIN_MS} ms`)), ANSWER_WITHIN_MS);
    });
    try {
      const res = await Promise.race([app.inject(options), timeout]);
      if (res.statusCode !== 200) {
        const key = `${res.statusCode} ${res.json().code} ${options.url} ${String(res.json().detail).slice(0, 120)}`;
        refused.set(key, (refused.get(key) ?? 0) + 1);
      }
      return res;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Why a non-200 answer is not a documented problem, or undefined when it is one. */
  function problemFault(res: LightMyRequestResponse): string | undefined {
    if (res.statusCode >= 500) return `a ${res.statusCode}: ${res.body.slice(0, 300)}`;
    if (!String(res.headers['content-type']).startsWith('application/problem+json')) return `a ${res.statusCode} as ${res.headers['content-type']}`;
    const code = res.json().code;
    if (!codes.includes(code)) return `undocumented code ${code}`;
    return undefined;
  }

  /** Checks one answer; returns a line describing the fault, or undefined. */
  async function fault(res: LightMyRequestResponse, input: Input, op: string, fields: Fields, format: 'default' | 'hwc' | 'chw'): Promise<string | undefined> {
    if (res.statusCode !== 200) return problemFault(res);
    const [width, height] = expectedSize(input, op, fields);
    const channels = expectedChannels(input, op, fields);
    const type = String(res.headers['content-type']);
    if (format !== 'default') {
      if (type !== 'application/x-npy') return `content type ${type}`;
      const shape = npyShape(res.rawPayload);
      const want = format === 'chw' ? [channels, height, width] : [height, width, channels];
      return JSON.stringify(shape) === JSON.stringify(want) ? undefined : `npy shape ${shape}, expected ${want}`;
    }
    if (type !== input.type) return `content type ${type}, expected ${input.type}`;
    const meta = await sharp(res.rawPayload).metadata();
    if (meta.width !== width || meta.height !== height) return `size ${meta.width}x${meta.height}, expected ${width}x${height}`;
    // PNG keeps every channel count; JPEG and WebP have their own.
    if (type === 'image/png' && meta.channels !== channels) return `${meta.channels} channels, expected ${channels}`;
    return undefined;
  }

  const label = (fields: Fields) =>
    JSON.stringify(Object.fromEntries(Object.entries(fields).filter(([, v]) => !Buffer.isBuffer(v) && !Array.isArray(v))));

  test('every operation, defaults and bound edges, on every awkward image: a sized 200 or a documented 4xx', async () => {
    const faults: string[] = [];
    let answers = 0;
    for (const [name, input] of Object.entries(images)) {
      for (const [op, list] of Object.entries(ops)) {
        for (const [i, fields] of list.entries()) {
          // Defaults in all three shapes; edges as an image and as [H, W, C].
          const formats = i === 0 ? (['default', 'hwc', 'chw'] as const) : (['default', 'hwc'] as const);
          for (const format of formats) {
            const body = form({ image: input.bytes, seed: SEED, ...fields, ...(format === 'default' ? {} : { format: 'npy', layout: format }) });
            const res = await send({ method: 'POST', url: `/v1/augment/${op}`, body });
            answers++;
            const why = await fault(res, input, op, fields, format);
            if (why) faults.push(`${name} ${op} ${label(fields)} ${format}: ${why}`);
          }
        }
      }
    }
    console.log(`# ${answers} answers`);
    assert.deepEqual(faults, []);
  });

  test('grey + alpha keeps its alpha: invert changes the grey values only (npy, [H, W, 2])', async () => {
    const input = images['grey+alpha']!;
    const res = await send({ method: 'POST', url: '/v1/augment/invert', body: form({ image: input.bytes, seed: SEED, format: 'npy' }) });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(npyShape(res.rawPayload), [input.height, input.width, 2]);
    const got = res.rawPayload.subarray(res.rawPayload.length - input.width * input.height * 2);
    const sent = await sharp(input.bytes).raw().toBuffer({ resolveWithObject: true });
    assert.equal(sent.info.channels, 4, 'sharp gives grey + alpha as RGBA');
    for (let i = 0; i < input.width * input.height; i++) {
      assert.equal(got[2 * i], 255 - sent.data[4 * i]!, `grey of pixel ${i}`);
      assert.equal(got[2 * i + 1], sent.data[4 * i + 3], `alpha of pixel ${i}`);
    }
  });

  test("rotate with expand: torchvision's canvas alone, with a mask, and fused in a pipeline", async () => {
    // [W, H, angle, W', H'] from torchvision 0.14's F.rotate(expand=True); the first two are not the plain swap.
    const cases = [
      [64, 97, 90, 98, 65],
      [16, 9, -90, 10, 17],
      [5, 7, -90, 7, 5],
      [13, 9, -270, 9, 13],
    ] as const;
    const faults: string[] = [];
    for (const [w, h, angle, ow, oh] of cases) {
      const image = await makeImage(w, h, 'png');
      const mask = await sharp(Buffer.alloc(w * h, 255), { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').png().toBuffer();
      const tag = `${w}x${h} at ${angle}`;
      const alone = await send({ method: 'POST', url: '/v1/augment/rotate', body: form({ image, angle, expand: true, format: 'npy' }) });
      if (alone.statusCode !== 200) faults.push(`${tag}: ${alone.statusCode}`);
      else if (JSON.stringify(npyShape(alone.rawPayload)) !== JSON.stringify([oh, ow, 3])) faults.push(`${tag}: alone ${npyShape(alone.rawPayload)}`);
      const masked = await send({ method: 'POST', url: '/v1/augment/rotate', body: form({ image, angle, expand: true, mask }) });
      const answer = masked.json();
      const sizes = [answer.image, answer.targets?.masks?.[0]].map(async (b64) => (b64 ? sharp(Buffer.from(b64, 'base64')).metadata() : undefined));
      const [im, mk] = await Promise.all(sizes);
      if (im?.width !== ow || im?.height !== oh || mk?.width !== ow || mk?.height !== oh) faults.push(`${tag}: with a mask ${im?.width}x${im?.height}, mask ${mk?.width}x${mk?.height}`);
      // Two resampling steps are one fused warp (an identity affine keeps the canvas).
      const ops = JSON.stringify([{ op: 'rotate', angle, expand: true }, { op: 'affine' }]);
      const fused = await send({ method: 'POST', url: '/v1/augment/pipeline', body: form({ image, seed: SEED, ops, format: 'npy' }) });
      if (fused.statusCode !== 200) faults.push(`${tag}: fused ${fused.statusCode}`);
      else if (JSON.stringify(npyShape(fused.rawPayload)) !== JSON.stringify([oh, ow, 3])) faults.push(`${tag}: fused ${npyShape(fused.rawPayload)}`);
    }
    assert.deepEqual(faults, []);
  });

  test('perspective at distortion_scale 1 on images a few pixels across: never a 5xx; degenerate draws leave the image as it was', async () => {
    const faults: string[] = [];
    let unchanged = 0;
    for (const [w, h] of [[2, 2], [3, 2], [2, 7], [4, 4]] as const) {
      const image = await makeImage(w, h, 'png');
      const sent = await sharp(image).raw().toBuffer();
      // Seeds 0-19 on each size: more than enough draws with three end points on a line.
      for (let seed = 0; seed < 20; seed++) {
        const alone = await send({ method: 'POST', url: '/v1/augment/perspective', body: form({ image, seed, distortion_scale: 1, format: 'npy', bboxes: '[[0,0,1,1]]' }) });
        if (alone.statusCode !== 200) {
          faults.push(`${w}x${h} seed ${seed}: ${alone.statusCode} ${alone.body.slice(0, 120)}`);
          continue;
        }
        const { params, image: npy } = alone.json();
        const start = [[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]];
        assert.deepEqual(params.startpoints, start);
        if (JSON.stringify(params.endpoints) === JSON.stringify(start)) {
          unchanged++;
          const pixels = Buffer.from(npy, 'base64');
          if (!pixels.subarray(pixels.length - sent.length).equals(sent)) faults.push(`${w}x${h} seed ${seed}: unchanged params, changed pixels`);
        }
        const ops = JSON.stringify([{ op: 'perspective', distortion_scale: 1 }, { op: 'rotate', angle: 10 }]);
        const fused = await send({ method: 'POST', url: '/v1/augment/pipeline', body: form({ image, seed, ops }) });
        if (fused.statusCode !== 200) faults.push(`${w}x${h} seed ${seed} pipeline: ${fused.statusCode} ${fused.body.slice(0, 120)}`);
      }
    }
    assert.deepEqual(faults, []);
    assert.ok(unchanged > 0, 'no degenerate draw was met: the sizes or seeds no longer test it');
  });

  test('Accept: application/json and the raw body give the same size and channels', async () => {
    const faults: string[] = [];
    for (const name of ['grey', 'grey+alpha', 'rgba', 'cmyk', 'exif-6', '1x7']) {
      const input = images[name]!;
      for (const [op, list] of Object.entries(ops)) {
        const fields = list[0]!;
        const json = await send({ method: 'POST', url: `/v1/augment/${op}`, body: form({ image: input.bytes, seed: SEED, ...fields }), headers: { accept: 'application/json' } });
        if (json.statusCode !== 200) faults.push(`${name} ${op} json: ${problemFault(json) ?? json.statusCode}`);
        else {
          const answer = json.json();
          const [width, height] = expectedSize(input, op, fields);
          const image = Buffer.from(answer.image, 'base64');
          const meta = await sharp(image).metadata();
          if (answer.contentType !== input.type || answer.width !== width || answer.height !== height || meta.width !== width || meta.height !== height) {
            faults.push(`${name} ${op} json: ${answer.contentType} ${answer.width}x${answer.height} (${meta.width}x${meta.height})`);
          }
        }
        if (MULTI_IMAGE.includes(op)) continue;
        const type = name === 'cmyk' || name === 'exif-6' ? 'image/jpeg' : 'image/png';
        const raw = await send({ method: 'POST', url: `/v1/augment/${op}?seed=${SEED}&format=npy`, body: input.bytes, headers: { 'content-type': type } });
        const why = await fault(raw, input, op, fields, 'hwc');
        if (why) faults.push(`${name} ${op} raw: ${why}`);
      }
    }
    assert.deepEqual(faults, []);
  });

  test('pipelines chaining six new operations move boxes, keypoints and a mask on every awkward image', async () => {
    const chains = [
      [{ op: 'hue', factor_range: '-0.5,0.5' }, { op: 'affine', angle_range: '-30,30', scale_range: '0.5,1.5', shear_range: '-20,20' }, { op: 'perspective', distortion_scale: 1 }, { op: 'erase', scale_range: '1,1' }, { op: 'gaussian_blur', kernel_size: 99 }, { op: 'randaugment', num_ops: 4 }],
      [{ op: 'posterize', bits: 1 }, { op: 'rotate', angle: 90, expand: true }, { op: 'augmix', severity: 10 }, { op: 'trivialaugment' }, { op: 'equalize' }, { op: 'jpeg', quality: 1 }],
      [{ op: 'autoaugment' }, { op: 'gaussian_noise', sigma: 255 }, { op: 'color_jitter', brightness: 0.9, hue: 0.5 }, { op: 'mosaic' }, { op: 'sharpness', factor: 100 }],
    ];
    const faults: string[] = [];
    for (const [name, input] of Object.entries(images)) {
      const mask = await sharp(Buffer.alloc(input.width * input.height, 200), { raw: { width: input.width, height: input.height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
      const targets = { bboxes: `[[0,0,${input.width},${input.height}]]`, keypoints: '[[0.5,0.5]]', mask };
      for (const [c, chain] of chains.entries()) {
        for (const seed of PIPELINE_SEEDS) {
          // The chain that names mosaic needs its three images; the others refuse them.
          const extra = chain.some((s) => s.op === 'mosaic') ? { mix_image: [mix, mix, mix] } : {};
          const res = await send({ method: 'POST', url: '/v1/augment/pipeline', body: form({ image: input.bytes, seed, ops: JSON.stringify(chain), ...targets, ...extra }) });
          const tag = `${name} chain ${c} seed ${seed}`;
          if (res.statusCode !== 200) {
            const why = problemFault(res);
            if (why) faults.push(`${tag}: ${why}`);
            continue;
          }
          for (const variant of res.json().variants) {
            const meta = await sharp(Buffer.from(variant.image, 'base64')).metadata();
            const rotated = variant.applied.some((s: { op: string }) => s.op === 'rotate');
            const [width, height] = rotated ? [input.height, input.width] : [input.width, input.height];
            if (meta.width !== width || meta.height !== height) faults.push(`${tag}: size ${meta.width}x${meta.height}, expected ${width}x${height}`);
            const masks = variant.targets?.masks ?? [];
            if (masks.length !== 1) faults.push(`${tag}: ${masks.length} masks`);
            else {
              const m = await sharp(Buffer.from(masks[0], 'base64')).metadata();
              if (m.width !== width || m.height !== height) faults.push(`${tag}: mask ${m.width}x${m.height}`);
            }
            if (!Array.isArray(variant.targets?.bboxes) || !Array.isArray(variant.targets?.keypoints)) faults.push(`${tag}: targets ${JSON.stringify(variant.targets)}`);
          }
          const npy = await send({ method: 'POST', url: '/v1/augment/pipeline', body: form({ image: input.bytes, seed, ops: JSON.stringify(chain), format: 'npy', layout: 'chw', ...extra }) });
          if (npy.statusCode !== 200) {
            const why = problemFault(npy);
            if (why) faults.push(`${tag} npy: ${why}`);
          } else {
            const [channels, h, w] = npyShape(npy.rawPayload);
            if (h! * w! !== input.width * input.height || ![1, 2, 3, 4].includes(channels!)) faults.push(`${tag} npy: shape ${[channels, h, w]}`);
          }
        }
      }
    }
    assert.deepEqual(faults, []);
  });

  test('a shard of the awkward images through six new operations: npy members of the decoded channels, both layouts', async () => {
    // A shard's image members are jpg, jpeg, png, webp, avif, tif or tiff (no gif, as documented).
    const names = Object.keys(images).filter((name) => !name.startsWith('gif'));
    const ext = (input: Input) => (input.type === 'image/jpeg' ? 'jpg' : input.type === 'image/webp' ? 'webp' : 'png');
    const body = await makeTar(names.map((name, i) => ({ name: `s${i}.${ext(images[name]!)}`, data: images[name]!.bytes })));
    const ops = [{ op: 'hue', factor_range: [-0.5, 0.5] }, { op: 'affine', angle_range: [-30, 30] }, { op: 'perspective', distortion_scale: 1 }, { op: 'erase' }, { op: 'gaussian_blur', kernel_size: 99 }, { op: 'trivialaugment' }];
    for (const layout of ['hwc', 'chw'] as const) {
      const query = new URLSearchParams({ ops: JSON.stringify(ops), seed: String(SEED), variants: '2', format: 'npy', layout });
      const res = await send({ method: 'POST', url: `/v1/augment/shard?${query}`, headers: { 'content-type': 'application/x-tar' }, body });
      assert.equal(res.statusCode, 200, res.body);
      const members = new Map((await readTar(res.rawPayload)).map((m) => [m.name, m.data]));
      assert.equal(JSON.parse(members.get('__summary__.json')!.toString()).errors, 0, [...members.keys()].join(' '));
      for (const [i, name] of names.entries()) {
        const { width, height, channels } = images[name]!;
        for (const v of [0, 1]) {
          const npy = members.get(`s${i}.v${v}.npy`);
          assert.ok(npy, `${name}: no s${i}.v${v}.npy`);
          assert.deepEqual(npyShape(npy), layout === 'chw' ? [channels, height, width] : [height, width, channels], `${name} v${v} ${layout}`);
        }
      }
    }
  });

  test('a 3000×2000 JPEG through the size-dependent operations', async () => {
    const big: Input = { bytes: await makeImage(3000, 2000, 'jpeg'), width: 3000, height: 2000, channels: 3, type: 'image/jpeg' };
    const cases: Array<[string, Fields]> = [
      // (A 99-tap blur of it takes seconds; the tiny images cover that kernel's reflect padding.)
      ['gaussian_blur', {}],
      ['perspective', { distortion_scale: 1 }],
      // torchvision's canvas is the swap here; it once came out a pixel wider.
      ['rotate', { angle: -270, expand: true }],
      ['equalize', {}],
      ['augmix', { severity: 10 }],
      ['mosaic', { mix_image: [mix, mix, mix] }],
    ];
    const faults: string[] = [];
    for (const [op, fields] of cases) {
      const res = await send({ method: 'POST', url: `/v1/augment/${op}`, body: form({ image: big.bytes, seed: SEED, format: 'npy', ...fields }) });
      const why = await fault(res, big, op, fields, 'hwc');
      if (why) faults.push(`${op}: ${why}`);
    }
    assert.deepEqual(faults, []);
  });
});
