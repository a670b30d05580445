import { InvalidParamError } from './errors.ts';
import { OP_NAMES, type ImageSize, type OpContext, type OpName, type RawImage, type Rng, isOpName, operations } from './ops/index.ts';
import { expected } from './ops/params.ts';
import type { TargetRequest } from './targets/request.ts';
import type { TargetSet } from './targets/set.ts';
import { transformTargets } from './targets/transform.ts';

/** One step of a request's pipeline: an operation, its chance, and its (coerced) parameters. */
export type PipelineStep = { op: OpName; p?: number } & Record<string, unknown>;

/** A step that ran, with its fully resolved parameters (send them back to replay it). */
export interface AppliedStep {
  op: OpName;
  params: Record<string, unknown>;
}

export interface PipelineResult {
  image: RawImage;
  applied: AppliedStep[];
  /** The request's targets after every applied step, when it gave some. */
  targets?: TargetSet;
}

export const DEFAULT_STEP_P = 1;

/** Optional observers of each step, for limits and metrics kept outside the operations. */
export interface PipelineHooks {
  /** Called with the resolved parameters before a step's pixels are computed; may throw to refuse it. */
  beforeApply?(op: OpName, size: ImageSize, params: Record<string, unknown>): unknown;
  /** Wraps each step's apply, e.g. to time it. */
  timed?<T>(op: OpName, work: () => Promise<T>): Promise<T>;
}

async function applyStep(
  op: OpName,
  image: RawImage,
  resolved: Record<string, unknown>,
  ctx: OpContext,
  hooks: PipelineHooks,
): Promise<RawImage> {
  const size = { width: image.width, height: image.height };
  hooks.beforeApply?.(op, size, resolved);
  const work = () => operations[op].apply(image, resolved, ctx);
  return hooks.timed ? hooks.timed(op, work) : work();
}

/** The targets after one step on an image of `size`, by the step's own geometry. */
function moveTargets(set: TargetSet | undefined, targets: TargetRequest | undefined, op: OpName, size: ImageSize, resolved: Record<string, unknown>, ctx: OpContext) {
  if (!set || !targets) return set;
  return transformTargets(set, operations[op].geometry(resolved, size, ctx), targets.settings, targets.mix, targets.mixes);
}

/**
 * Runs the steps in order, each one finished (raw pixels) before the next starts. A step runs
 * with probability `p`: one draw per step, also when p is 1, so that changing one step's p leaves
 * the other steps' draws where they were. Skipped steps are not listed in `applied`.
 *
 * @example
 * const { image: out, applied } = await runPipeline(createRng(7), image, [
 *   { op: 'flip', direction: 'random' },
 *   { op: 'rotate', p: 0.5, angle_range: [-10, 10] },
 * ], {});
 */
export async function runPipeline(
  rng: Rng,
  image: RawImage,
  steps: readonly PipelineStep[],
  ctx: OpContext,
  hooks: PipelineHooks = {},
  targets?: TargetRequest,
): Promise<PipelineResult> {
  const applied: AppliedStep[] = [];
  let current = image;
  let set = targets?.set;
  for (const [i, step] of steps.entries()) {
    const { op: name, p = DEFAULT_STEP_P, ...params } = step;
    const operation = operations[checkOp(`steps[${i}].op`, name)];
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
      throw new InvalidParamError(expected('a number in [0, 1]', `steps[${i}].p`, p));
    }
    if (!rng.bernoulli(p)) continue;
    const size = sizeOf(current);
    const resolved = operation.sample(rng, size, params, ctx) as Record<string, unknown>;
    current = await applyStep(name, current, resolved, ctx, hooks);
    set = moveTargets(set, targets, name, size, resolved, ctx);
    applied.push({ op: name, params: resolved });
  }
  return { image: current, applied, ...(set ? { targets: set } : {}) };
}

/**
 * Replays what `runPipeline` reported as applied: the same steps and resolved parameters give
 * the same pixels. Parameters that would still need a random draw are rejected.
 */
export async function replayPipeline(
  image: RawImage,
  applied: readonly AppliedStep[],
  ctx: OpContext,
  hooks: PipelineHooks = {},
  targets?: TargetRequest,
): Promise<PipelineResult> {
  const replayed: AppliedStep[] = [];
  let current = image;
  let set = targets?.set;
  for (const [i, step] of applied.entries()) {
    const operation = operations[checkOp(`applied[${i}].op`, step.op)];
    let resolved: Record<string, unknown>;
    try {
      resolved = operation.sample(noDraws, sizeOf(current), step.params, ctx) as Record<string, unknown>;
    } catch (err) {
      if (err !== DRAW_ATTEMPTED) throw err;
      throw new InvalidParamError(expected('fully resolved parameters', `applied[${i}].params`, step.params));
    }
    const size = sizeOf(current);
    current = await applyStep(step.op, current, resolved, ctx, hooks);
    set = moveTargets(set, targets, step.op, size, resolved, ctx);
    replayed.push({ op: step.op, params: resolved });
  }
  return { image: current, applied: replayed, ...(set ? { targets: set } : {}) };
}

function sizeOf({ width, height }: RawImage): ImageSize {
  return { width, height };
}

function checkOp(name: string, value: unknown): OpName {
  if (!isOpName(value)) throw new InvalidParamError(expected(`one of ${OP_NAMES.join(', ')}`, name, value));
  return value;
}

const DRAW_ATTEMPTED = Symbol('draw attempted');
/** Resolved parameters need no randomness; a draw means some were missing. */
const noDraws: Rng = {
  next: () => {
    throw DRAW_ATTEMPTED;
  },
  uniform: () => noDraws.next(),
  int: () => noDraws.next(),
  bernoulli: () => noDraws.next() < 0,
  logUniform: () => noDraws.next(),
  normal: () => noDraws.next(),
  gamma: () => noDraws.next(),
  beta: () => noDraws.next(),
};
