import { coerceObject, validateAgainst } from '../../shared/form.ts';
import { decodeImage, encodeImage, inspectImage, type Form, type IntakeLimits, type OutputFormat } from '../../shared/intake.ts';
import { npyMask, type NpyLayout } from '../../shared/npy.ts';
import { componentSchema, type JsonSchema } from '../../shared/openapi.ts';
import { intakeErrors } from '../errors.ts';
import { runPipeline, type PipelineHooks, type PipelineStep } from '../pipeline.ts';
import { createRng } from '../random.ts';
import { targetsAnswer } from '../targets/answer.ts';
import { TARGET_FIELDS, hasTargets, readTargets, type TargetRequest } from '../targets/request.ts';
import { IMAGE_EXTENSIONS, type ShardSample } from './read.ts';
import { DecodedCache } from './cache.ts';
import { sampleSeed } from './seed.ts';

/** What every sample of one shard request is augmented with. */
export interface ShardRecipe {
  steps: PipelineStep[];
  variants: number;
  seed: number;
  epoch: number;
  format?: OutputFormat;
  quality?: number;
  /** Axis order of `npy` images. */
  layout?: NpyLayout;
  limits: IntakeLimits;
  maxTargets: number;
  hooks: PipelineHooks;
  /** Decoded images kept across requests (`SHARD_CACHE_MB`). */
  cache?: DecodedCache;
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
  return { targets, maskNames };
}

/**
 * One sample of a shard, augmented `variants` times: the same decode, `runPipeline` and encoder as
 * `/v1/augment/pipeline`, each variant with its own seed from the sample's key (`sampleSeed`).
 * Throws the service's error for anything wrong with the sample; the caller makes it the
 * sample's `.error.json`.
 */
export async function augmentSample(sample: ShardSample, recipe: ShardRecipe): Promise<OutputMember[]> {
  if (sample.error) throw sample.error;
  const { key } = sample;
  const imageExt = [...sample.members.keys()].find((ext) => (IMAGE_EXTENSIONS as readonly string[]).includes(ext));
  if (!imageExt) {
    throw Object.assign(new intakeErrors.InvalidRequest(`sample ${key} has no image member (.${IMAGE_EXTENSIONS.join(', .')})`), { param: key });
  }
  const { cls, json } = readLabel(sample);
  const field = `${key}.${imageExt}`;
  const bytes = sample.members.get(imageExt)!;
  const decode = async () => decodeImage(bytes, recipe.limits, intakeErrors, field, await inspectImage(bytes, recipe.limits, intakeErrors, field));
  // The variants only read the decoded pixels, so cached ones can be shared across requests.
  const input = recipe.cache ? await recipe.cache.get(DecodedCache.key(bytes), decode) : await decode();
  const { targets, maskNames } = await sampleTargets(sample, json, input.raw, recipe);
  const format = recipe.format ?? input.format;
  const label = json?.label ?? cls ?? null;
  const out: OutputMember[] = [];
  for (let variant = 0; variant < recipe.variants; variant++) {
    const seed = sampleSeed(recipe.seed, recipe.epoch, key, variant);
    const { image, applied, targets: moved } = await runPipeline(createRng(seed), input.raw, recipe.steps, {}, recipe.hooks, targets);
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
    const info = { key, variant, seed, width: image.width, height: image.height, applied, label, ...(answer ? { targets: answer } : {}) };
    out.push({ name: `${stem}.json`, data: Buffer.from(JSON.stringify(info)) });
    const clsBytes = sample.members.get('cls');
    if (clsBytes) out.push({ name: `${stem}.cls`, data: clsBytes });
  }
  return out;
}
