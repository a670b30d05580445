import type { Metadata } from 'sharp';
import { decodeImage, encodeImage, orientedSize, transcodable, transcode, type IntakeLimits, type OutputFormat } from '../shared/intake.ts';
import type { NpyLayout } from '../shared/npy.ts';
import { intakeErrors } from './errors.ts';
import { operations } from './ops/index.ts';
import type { ImageSize, OpContext, OpName, PipelineSource } from './ops/types.ts';
import type { TargetRequest } from './targets/request.ts';
import type { TargetSet } from './targets/set.ts';
import { transformTargets } from './targets/transform.ts';

export interface SingleRequest {
  op: OpName;
  /** The upload, and its header as `inspectImage` read it. */
  bytes: Buffer;
  meta: Metadata;
  /** The operation's resolved parameters for an image of `size` (sampling, limit checks). */
  resolve: (size: ImageSize) => Record<string, unknown>;
  ctx: OpContext;
  format: OutputFormat;
  quality: number | undefined;
  /** Axis order of an `npy` answer. */
  layout?: NpyLayout;
  limits: IntakeLimits;
  /** Wraps the operation's work, e.g. to time it. */
  timed?: <T>(op: OpName, work: () => Promise<T>) => Promise<T>;
  /** Boxes, keypoints and masks to move with the image. */
  targets?: TargetRequest;
}

export interface SingleResult {
  bytes: Buffer;
  width: number;
  height: number;
  /** The request's targets after the operation, when it gave some. */
  targets?: TargetSet;
}

/**
 * One operation on one upload, from its bytes to the encoded answer. On a plain upload (8-bit grey
 * or sRGB, no alpha, one frame) flip, rotate, crop and scale run as one sharp pipeline from decoder
 * to encoder where they can (`transform`), so the full-size pixels never cross into JavaScript;
 * everything else is decoded to raw pixels, `apply`'d (or, for cutout and CutMix, `paint`ed in place)
 * and encoded. (Cutout stays raw: painting the holes in JavaScript measured faster than libvips
 * compositing them, bench/cutout-experiments.ts.) Both ways give the same pixels
 * (test/augment/single.test.ts).
 * @example const { bytes, params } = await augmentOne({ op: 'flip', bytes: png, meta, resolve: () => ({ direction: 'horizontal' }), ... });
 */
export async function augmentOne(request: SingleRequest): Promise<SingleResult & { params: Record<string, unknown> }> {
  const { op, bytes, meta, ctx, format, quality, limits, layout } = request;
  const timed = request.timed ?? (<T>(_op: OpName, work: () => Promise<T>) => work());
  const operation = operations[op];
  let params: Record<string, unknown> | undefined;
  // Targets need the resolved geometry and masks beside the pixels: the raw path.
  if (operation.transform && transcodable(meta) && !request.targets) {
    // One still frame: the header's oriented size is the decoded size.
    const size = orientedSize(meta);
    params = request.resolve(size);
    const transform = operation.transform(params, size, pipelineSource(meta));
    if (transform) {
      const out = await timed(op, () => transcode(bytes, meta, transform, format, quality, limits, intakeErrors, 'image', layout));
      return { bytes: out.data, width: out.width, height: out.height, params };
    }
  }
  const input = await decodeImage(bytes, limits, intakeErrors, 'image', meta);
  params ??= request.resolve({ width: input.raw.width, height: input.raw.height });
  const resolved = params;
  // The decoded upload is this call's own: operations that only paint regions paint it in place.
  const output = await timed(op, async () => {
    if (!operation.paint) return operation.apply(input.raw, resolved, ctx);
    await operation.paint(input.raw, resolved, ctx);
    return input.raw;
  });
  const bytesOut = await encodeImage(output, format, quality, layout);
  const { targets } = request;
  if (!targets) return { bytes: bytesOut, width: output.width, height: output.height, params };
  const geometry = operation.geometry(resolved, { width: input.raw.width, height: input.raw.height }, ctx);
  const moved = transformTargets(targets.set, geometry, targets.settings, targets.mix, targets.mixes);
  return { bytes: bytesOut, width: output.width, height: output.height, params, targets: moved };
}

/** The decoded image a one-pass pipeline works on, for a `transcodable` upload. */
export function pipelineSource(meta: Metadata): PipelineSource {
  return { channels: meta.space === 'b-w' ? 1 : 3, profiled: meta.hasProfile === true };
}
