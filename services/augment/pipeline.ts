import { InvalidParamError } from './errors.ts';
import { colourPixel, parseColour } from './colour.ts';
import { OP_NAMES, type ImageSize, type OpContext, type OpName, type RawImage, type Resampling, type Rng, isOpName, operations } from './ops/index.ts';
import { warp } from './ops/warp.ts';
import { fuseRun, reduction, runGeometry, type Reduction } from './runs.ts';
import { composeProjective } from './ops/geometry.ts';
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

/**
 * An image not decoded yet (the shard route's JPEGs): its size, and its pixels decoded whole or
 * `factor` times smaller (1/2, 1/4, 1/8 of each side, rounded), asked for once the first run of
 * resamplings shows how much of it is needed.
 */
export interface PendingImage {
  width: number;
  height: number;
  decode(factor: Reduction): Promise<RawImage>;
}

function isPending(image: RawImage | PendingImage): image is PendingImage {
  return 'decode' in image;
}

/**
 * Runs resolved steps over an image: a step with a `resampling` joins the current run of such
 * steps; any other step (or the end) first finishes that run (`finishRun`), then runs on the
 * pixels. Sizes are known before pixels are, so sampling never waits for a run to be warped, and a
 * pending image is decoded only when the first run (or step) needs its pixels.
 */
class Executor {
  private image: RawImage | PendingImage;
  /** The pixels the pipeline was given (or decoded whole from a pending image): never written. */
  private input: RawImage | PendingImage;
  private set: TargetSet | undefined;
  private run: RunStep[] = [];

  constructor(
    image: RawImage | PendingImage,
    private readonly ctx: OpContext,
    private readonly hooks: PipelineHooks,
    private readonly targets: TargetRequest | undefined,
  ) {
    this.image = image;
    this.input = image;
    this.set = targets?.set;
  }

  /** The size the next step sees. */
  size(): ImageSize {
    const last = this.run.at(-1);
    return last ? { width: last.resampling.width, height: last.resampling.height } : sizeOf(this.image);
  }

  async add(op: OpName, resolved: Record<string, unknown>): Promise<void> {
    const size = this.size();
    this.hooks.beforeApply?.(op, size, resolved);
    const operation = operations[op];
    if (operation.resampling) {
      this.run.push({ op, resolved, size, resampling: operation.resampling(resolved, size) });
      return;
    }
    await this.finishRun();
    const input = await this.pixels();
    // Pixels a step of this pipeline made are its own: a painting step paints them where they are.
    // The pipeline's input may be shared (variants, the shard cache) and gets `apply`'s copy.
    const owned = input !== this.input && operation.paint !== undefined;
    const work = async () => (owned ? (await operation.paint!(input, resolved, this.ctx), input) : operation.apply(input, resolved, this.ctx));
    this.image = await (this.hooks.timed ? this.hooks.timed(op, work) : work());
    this.set = moveTargets(this.set, this.targets, op, sizeOf(input), resolved, this.ctx);
  }

  async finish(): Promise<{ image: RawImage; targets?: TargetSet }> {
    await this.finishRun();
    return { image: await this.pixels(), ...(this.set ? { targets: this.set } : {}) };
  }

  /** The current pixels, a pending image decoded whole. */
  private async pixels(): Promise<RawImage> {
    if (isPending(this.image)) this.image = this.input = await this.image.decode(1);
    return this.image;
  }

  /**
   * One step alone runs its own `apply` (its pixels as the single-image route gives them); two or
   * more are composed into one map and warped once from the run's input (`fuseRun`). A pending
   * image that the run shrinks by 2× or more is decoded smaller (`reduction`) and warped from
   * there, the map composed with the decode's own scale; the targets follow the full-size map.
   */
  private async finishRun(): Promise<void> {
    const run = this.run;
    if (run.length === 0) return;
    this.run = [];
    const [first] = run as [RunStep];
    const fused = run.length > 1 ? fuseRun(run) : first.resampling;
    const factor = isPending(this.image) ? reduction(fused) : 1;
    if (run.length === 1 && factor === 1) {
      const input = await this.pixels();
      const work = () => operations[first.op].apply(input, first.resolved, this.ctx);
      this.image = await (this.hooks.timed ? this.hooks.timed(first.op, work) : work());
      this.set = moveTargets(this.set, this.targets, first.op, first.size, first.resolved, this.ctx);
      return;
    }
    let forward = fused.forward;
    let input: RawImage;
    if (factor > 1) {
      const full = this.image;
      input = await (full as PendingImage).decode(factor);
      forward = composeProjective(forward, [full.width / input.width, 0, 0, 0, full.height / input.height, 0, 0, 0, 1]);
    } else {
      input = await this.pixels();
    }
    const options = { interpolation: fused.interpolation, fill: colourPixel(parseColour(fused.fill, 'fill'), input.channels) };
    const work = async () => warp(input, forward, fused.width, fused.height, options);
    this.image = await (this.hooks.timed ? this.hooks.timed(run.at(-1)!.op, work) : work());
    if (run.length === 1) this.set = moveTargets(this.set, this.targets, first.op, first.size, first.resolved, this.ctx);
    else if (this.set && this.targets) this.set = transformTargets(this.set, runGeometry(fused), this.targets.settings, this.targets.mix);
  }
}

/** The targets after one step on an image of `size`, by the step's own geometry. */
function moveTargets(set: TargetSet | undefined, targets: TargetRequest | undefined, op: OpName, size: ImageSize, resolved: Record<string, unknown>, ctx: OpContext) {
  if (!set || !targets) return set;
  return transformTargets(set, operations[op].geometry(resolved, size, ctx), targets.settings, targets.mix, targets.mixes);
}

interface RunStep {
  op: OpName;
  resolved: Record<string, unknown>;
  /** The step's input size. */
  size: ImageSize;
  resampling: Resampling;
}

/**
 * Runs the steps in order. Consecutive steps that are one resampling each (flip, crop, scale and
 * any operation with `resampling`) are composed and resampled once (`fuseRun`); every other step
 * works on finished raw pixels. A step runs
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
  image: RawImage | PendingImage,
  steps: readonly PipelineStep[],
  ctx: OpContext,
  hooks: PipelineHooks = {},
  targets?: TargetRequest,
): Promise<PipelineResult> {
  const applied: AppliedStep[] = [];
  const executor = new Executor(image, ctx, hooks, targets);
  for (const [i, step] of steps.entries()) {
    const { op: name, p = DEFAULT_STEP_P, ...params } = step;
    const operation = operations[checkOp(`steps[${i}].op`, name)];
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
      throw new InvalidParamError(expected('a number in [0, 1]', `steps[${i}].p`, p));
    }
    if (!rng.bernoulli(p)) continue;
    const resolved = operation.sample(rng, executor.size(), params, ctx) as Record<string, unknown>;
    await executor.add(name, resolved);
    applied.push({ op: name, params: resolved });
  }
  return { ...(await executor.finish()), applied };
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
  const executor = new Executor(image, ctx, hooks, targets);
  for (const [i, step] of applied.entries()) {
    const operation = operations[checkOp(`applied[${i}].op`, step.op)];
    let resolved: Record<string, unknown>;
    try {
      resolved = operation.sample(noDraws, executor.size(), step.params, ctx) as Record<string, unknown>;
    } catch (err) {
      if (err !== DRAW_ATTEMPTED) throw err;
      throw new InvalidParamError(expected('fully resolved parameters', `applied[${i}].params`, step.params));
    }
    await executor.add(step.op, resolved);
    replayed.push({ op: step.op, params: resolved });
  }
  return { ...(await executor.finish()), applied: replayed };
}

function sizeOf({ width, height }: ImageSize): ImageSize {
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
