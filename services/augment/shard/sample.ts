import { coerceObject, validateAgainst } from '../../shared/form.ts';
import { decodeImage, encodeImage, inspectImage, type Form, type IntakeLimits, type OutputFormat } from '../../shared/intake.ts';
import { npyMask, type NpyLayout } from '../../shared/npy.ts';
import { componentSchema, type JsonSchema } from '../../shared/openapi.ts';
import { intakeErrors } from '../errors.ts';
import { runPipeline, type PipelineHooks, type PipelineStep } from '../pipeline.ts';
import { pipelineInput } from '../source.ts';
import { createRng } from '../random.ts';
import { targetsAnswer } from '../targets/answer.ts';
import { TARGET_FIELDS, hasTargets, readTargets, type TargetRequest } from '../targets/request.ts';
import { MOSAIC_MIX_IMAGES } from '../ops/mosaic.ts';
import type { OpContext, Rng } from '../ops/types.ts';
import type { TargetSet } from '../targets/set.ts';
import { IMAGE_EXTENSIONS, type ShardItem, type ShardSample } from './read.ts';
import type { ImageCache } from './cache.ts';
import { partnerSeed, sampleSeed } from './seed.ts';

/** What every sample of one shard request is augmented with. */
export interface ShardRecipe {
  steps: PipelineStep[];
  variants: number;
  seed: number;
  epoch: number;
  format?: OutputFormat;
  quality?: number;
  limits: IntakeLimits;
  maxTargets: number;
  hooks: PipelineHooks;
  /** Axis order of `npy` images. */
  layout?: NpyLayout;
  /** Decoded images kept across requests (`SHARD_CACHE_MB`). */
  cache?: ImageCache;
  /** Plain JPEGs up to this many pixels are decoded by @napi-rs/image (FAST_JPEG_DECODE_PIXELS; 0: never). */
  fastDecodePixels: number;
}

/**
 * The samples a mixing step may draw its partners from: every sample of the shard that has an
 * image and no error, by key, and the keys sorted (so the draw never depends on the tar's order).
 */
export interface PartnerPool {
  keys: string[];
  samples: Map<string, ShardSample>;
}

/** How many partners each variant needs: one image for cutmix/mixup (`mix`), three for mosaic (`mixes`). */
export function partnersNeeded(steps: readonly PipelineStep[]): { mix: boolean; mixes: number } {
  return {
    mix: steps.some((step) => step.op === 'cutmix' || step.op === 'mixup'),
    mixes: steps.some((step) => step.op === 'mosaic') ? MOSAIC_MIX_IMAGES : 0,
  };
}

/** A pool of the samples that can be partners. */
export function partnerPool(items: readonly ShardItem[]): PartnerPool {
  const samples = new Map<string, ShardSample>();
  for (const item of items) {
    if (item.kind !== 'sample' || item.error) continue;
    if ([...item.members.keys()].some((ext) => (IMAGE_EXTENSIONS as readonly string[]).includes(ext))) samples.set(item.key, item);
  }
  return { keys: [...samples.keys()].sort(), samples };
}

/** The partners' keys of one variant: drawn with replacement from the other samples (the sample itself only when it is alone). */
function drawPartners(pool: PartnerPool, key: string, count: number, rng: Rng): string[] {
  const others = pool.keys.filter((k) => k !== key);
  const from = others.length > 0 ? others : [key];
  return Array.from({ length: count }, () => from[rng.int(0, from.length)]!);
}

/** One member of the answer tar. */
export interface OutputMember {
  name: string;
  data: Buffer;
}

const EXTENSIONS: Record<OutputFormat, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', avif: 'avif', npy: 'npy' };

let targetSchema: JsonSchema | undefined;

function bad(message: string, param: string): Error {
  return Object.assign(new intakeErrors.InvalidParam(message), { param });
}

function readLabel(sample: ShardSample): { cls?: number; json?: Record<string, unknown> } {
  const out: { cls?: number; json?: Record<string, unknown> } = {};
  const cls = sample.members.get('cls');
  if (cls) {
    const text = cls.toString('utf8').trim();
    const value = Number(text);
    if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value)) throw bad(`expected an integer for ${sample.key}.cls, got ${JSON.stringify(text.slice(0, 40))}`, `${sample.key}.cls`);
    out.cls = value;
  }
  const json = sample.members.get('json');
  if (json) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json.toString('utf8'));
    } catch {
      throw bad(`expected JSON text for ${sample.key}.json`, `${sample.key}.json`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad(`expected a JSON object for ${sample.key}.json`, `${sample.key}.json`);
    out.json = parsed as Record<string, unknown>;
  }
  return out;
}

/** The sample's targets (the `.json`'s target fields and its masks), checked as the pipeline route checks them. */
async function sampleTargets(sample: ShardSample, json: Record<string, unknown> | undefined, size: { width: number; height: number }, recipe: ShardRecipe) {
  targetSchema ??= componentSchema('TargetFields');
  const given = Object.fromEntries(Object.entries(json ?? {}).filter(([name]) => (TARGET_FIELDS as readonly string[]).includes(name)));
  const fields = coerceObject(given, targetSchema, intakeErrors);
  validateAgainst(fields, targetSchema, intakeErrors, `${sample.key}.json: `);
  const maskNames = [...sample.members.keys()].filter((ext) => ext.startsWith('mask')).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (maskNames.includes('mask.png') && maskNames.length > 1) {
    throw Object.assign(new intakeErrors.InvalidRequest(`sample ${sample.key} mixes .mask.png with numbered masks`), { param: `${sample.key}.mask.png` });
  }
  maskNames.forEach((ext, i) => {
    if (ext !== 'mask.png' && ext !== `mask${i}.png`) {
      throw Object.assign(new intakeErrors.InvalidRequest(`expected ${sample.key}.mask${i}.png before ${sample.key}.${ext}`), { param: `${sample.key}.${ext}` });
    }
  });
  const form: Form = { files: new Map(maskNames.length > 0 ? [['mask', maskNames.map((ext) => sample.members.get(ext)!)]] : []), fields: {} };
  const targets: TargetRequest | undefined = hasTargets(fields, form)
    ? await readTargets(fields, form, size, undefined, recipe.limits, recipe.maxTargets, intakeErrors)
    : undefined;
  const counts = { boxes: (fields.bboxes as unknown[] | undefined)?.length ?? 0, keypoints: (fields.keypoints as unknown[] | undefined)?.length ?? 0 };
  return { targets, maskNames, given: counts };
}

/** A sample's image member and its name. */
export function imageOf(sample: ShardSample): { field: string; bytes: Buffer } {
  const ext = [...sample.members.keys()].find((e) => (IMAGE_EXTENSIONS as readonly string[]).includes(e));
  if (!ext) throw Object.assign(new intakeErrors.InvalidRequest(`sample ${sample.key} has no image member (.${IMAGE_EXTENSIONS.join(', .')})`), { param: sample.key });
  return { field: `${sample.key}.${ext}`, bytes: sample.members.get(ext)! };
}

/**
 * A partner decoded, with its boxes and keypoints (from its `.json`; its masks are not used, so the
 * answer's masks stay the sample's own) numbered from `first` on.
 */
async function readPartner(sample: ShardSample, recipe: ShardRecipe, first: { boxes: number; keypoints: number }) {
  const { field, bytes } = imageOf(sample);
  const meta = await inspectImage(bytes, recipe.limits, intakeErrors, field);
  const { raw } = await decodeImage(bytes, recipe.limits, intakeErrors, field, meta);
  const { json } = readLabel(sample);
  const { targets, given } = await sampleTargets({ ...sample, members: new Map([...sample.members].filter(([ext]) => !ext.startsWith('mask'))) }, json, raw, recipe);
  const set: TargetSet = {
    boxes: (targets?.set.boxes ?? []).map((box) => ({ ...box, index: box.index + first.boxes })),
    keypoints: (targets?.set.keypoints ?? []).map((point) => ({ ...point, index: point.index + first.keypoints })),
    masks: [],
  };
  return { raw, set, given };
}

/**
 * One sample of a shard, augmented `variants` times: the same decode, `runPipeline` and encoder as
 * `/v1/augment/pipeline`, each variant with its own seed from the sample's key (`sampleSeed`).
 * Throws the service's error for anything wrong with the sample; the caller makes it the
 * sample's `.error.json`.
 */
export async function augmentSample(sample: ShardSample, recipe: ShardRecipe, pool?: PartnerPool): Promise<OutputMember[]> {
  if (sample.error) throw sample.error;
  const { key } = sample;
  const { field, bytes } = imageOf(sample);
  const { cls, json } = readLabel(sample);
  const { input, size, format: inputFormat } = await pipelineInput(bytes, field, recipe);
  const { targets, maskNames, given } = await sampleTargets(sample, json, size, recipe);
  const needed = partnersNeeded(recipe.steps);
  const format = recipe.format ?? inputFormat;
  const label = json?.label ?? cls ?? null;
  const out: OutputMember[] = [];
  for (let variant = 0; variant < recipe.variants; variant++) {
    const seed = sampleSeed(recipe.seed, recipe.epoch, key, variant);
    let ctx: OpContext = {};
    let request = targets;
    let partners: string[] | undefined;
    if (pool && (needed.mix || needed.mixes > 0)) {
      partners = drawPartners(pool, key, needed.mixes + (needed.mix ? 1 : 0), createRng(partnerSeed(seed)));
      const next = { ...given };
      const read = [];
      for (const partner of partners) {
        const one = await readPartner(pool.samples.get(partner)!, recipe, next);
        next.boxes += one.given.boxes;
        next.keypoints += one.given.keypoints;
        read.push(one);
      }
      const mosaicParts = read.slice(0, needed.mixes);
      const single = needed.mix ? read[needed.mixes] : undefined;
      ctx = { ...(single ? { mix: single.raw } : {}), ...(mosaicParts.length > 0 ? { mixes: mosaicParts.map((one) => one.raw) } : {}) };
      if (targets) request = { ...targets, ...(single ? { mix: single.set } : {}), ...(mosaicParts.length > 0 ? { mixes: mosaicParts.map((one) => one.set) } : {}) };
    }
    const { image, applied, targets: moved } = await runPipeline(createRng(seed), input, recipe.steps, ctx, recipe.hooks, request);
    const stem = `${key}.v${variant}`;
    out.push({ name: `${stem}.${EXTENSIONS[format]}`, data: await encodeImage(image, format, recipe.quality, recipe.layout) });
    let answer: Record<string, unknown> | undefined;
    if (targets && moved) {
      if (format === 'npy') {
        // Masks as tensors too: `<key>.v<v>.mask.npy`, `[H, W]`, never encoded.
        const { masks: _png, ...rest } = await targetsAnswer({ ...moved, masks: [] }, targets.format, image);
        answer = { ...rest, masks: [] };
        moved.masks.forEach((mask, i) => out.push({ name: `${stem}.${maskNames[i]!.replace(/\.png$/, '.npy')}`, data: npyMask(mask) }));
      } else {
        const { masks, ...rest } = await targetsAnswer(moved, targets.format, image);
        answer = { ...rest, masks: [] };
        masks.forEach((mask, i) => out.push({ name: `${stem}.${maskNames[i]}`, data: Buffer.from(mask, 'base64') }));
      }
    }
    const info = { key, variant, seed, width: image.width, height: image.height, applied, label, ...(partners ? { partners } : {}), ...(answer ? { targets: answer } : {}) };
    out.push({ name: `${stem}.json`, data: Buffer.from(JSON.stringify(info)) });
    const clsBytes = sample.members.get('cls');
    if (clsBytes) out.push({ name: `${stem}.cls`, data: clsBytes });
  }
  return out;
}
