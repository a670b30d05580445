import type { IntakeErrors } from '../shared/form.ts';
import { coerceObject, validateAgainst } from '../shared/form.ts';
import { componentSchema, type JsonSchema } from '../shared/openapi.ts';
import { InvalidParamError, UnknownOpError } from './errors.ts';
import { rotatedCanvas } from './ops/rotate.ts';
import { isOpName, operations } from './ops/index.ts';
import { OP_NAMES, type ImageSize, type OpName } from './ops/types.ts';
import type { PipelineStep } from './pipeline.ts';
import { createRng } from './random.ts';
import { solidImage } from './ops/raster.ts';

/** Each operation's parameter schema, as the contract names it (`PipelineStep.x-params-by-op`). */
const PARAM_SCHEMAS = componentSchema('PipelineStep')['x-params-by-op'] as Record<OpName, string>;

/** One pipeline step's schema: `op`, `p`, and that operation's fields, nothing else. */
function stepSchemas(): Record<OpName, JsonSchema> {
  const base = componentSchema('PipelineStep');
  return Object.fromEntries(
    OP_NAMES.map((op) => [
      op,
      {
        type: 'object',
        required: ['op'],
        additionalProperties: false,
        properties: { ...base.properties, ...componentSchema(PARAM_SCHEMAS[op]).properties },
      } satisfies JsonSchema,
    ]),
  ) as Record<OpName, JsonSchema>;
}

let schemas: Record<OpName, JsonSchema> | undefined;

/**
 * A request's `ops` (already parsed as a list) checked step by step against the contract, each
 * step's fields coerced and validated as that operation's own: what `/v1/augment/pipeline` and
 * `/v1/augment/shard` both run.
 */
export function parseSteps(ops: ReadonlyArray<Record<string, unknown>>, errors: IntakeErrors): PipelineStep[] {
  schemas ??= stepSchemas();
  const stepSchema = schemas;
  return ops.map((step, index) => {
    // Looked up by membership, not by indexing: `constructor` or `__proto__` would find Object's own.
    const schema = isOpName(step.op) ? stepSchema[step.op] : undefined;
    if (!schema) throw Object.assign(new UnknownOpError(`expected one of ${OP_NAMES.join(', ')} for ops[${index}].op, got ${JSON.stringify(step.op)}`), { param: `ops[${index}].op` });
    const coerced = coerceObject(step, schema, errors);
    validateAgainst(coerced, schema, errors, `ops[${index}].`);
    return coerced as PipelineStep;
  });
}

/** A size no request's fields can be wrong for: only parameters wrong at every size fail on it. */
const PROBE_SIZE: ImageSize = { width: 64, height: 64 };
/** Stand-ins for the partners a shard's mixing steps draw from the shard itself. */
const PROBE_IMAGE = solidImage(PROBE_SIZE.width, PROBE_SIZE.height, 3, new Uint8Array([128, 128, 128]));
const PROBE_CONTEXT = { mix: PROBE_IMAGE, mixes: [PROBE_IMAGE, PROBE_IMAGE, PROBE_IMAGE] };

/**
 * Each step sampled once on a probe image, so that parameters the schema cannot judge alone (a
 * magnitude against its bin count, an AugMix replay's weights) refuse the request before any
 * answer is sent: the shard streams its answer, and a sample's failure would otherwise be reported
 * per member. Only 400s are raised (AUG_INVALID_PARAM, AUG_INVALID_RANGE, named `ops[i].field`);
 * what depends on the image (422) is left to each sample.
 */
export function probeSteps(steps: readonly PipelineStep[]): void {
  steps.forEach(({ op, p: _p, ...params }, index) => {
    try {
      operations[op].sample(createRng(0), PROBE_SIZE, params, PROBE_CONTEXT);
    } catch (err) {
      const e = err as { statusCode?: number; message?: string; param?: string };
      if (e.statusCode !== 400) return;
      // The operations name the field in the one message shape: "expected <what> for <name>, got <value>".
      const field = e.param ?? / for ([^\s,]+), got /.exec(e.message ?? '')?.[1] ?? op;
      throw Object.assign(err as Error, { message: `ops[${index}]: ${e.message}`, param: `ops[${index}].${field}` });
    }
  });
}

/** Pixel count an operation's output will have, known before any pixel is computed. */
function outputSize(op: OpName, size: ImageSize, params: Record<string, unknown>): ImageSize {
  switch (op) {
    case 'scale':
      if (params.keep_size === false) {
        const factor = params.factor as number;
        return { width: Math.max(1, Math.round(size.width * factor)), height: Math.max(1, Math.round(size.height * factor)) };
      }
      return size;
    case 'crop':
      return {
        width: (params.output_width as number | undefined) ?? (params.width as number),
        height: (params.output_height as number | undefined) ?? (params.height as number),
      };
    case 'rotate':
      return rotatedCanvas({ angle: params.angle as number, expand: params.expand === true }, size);
    case 'mosaic':
      return { width: params.output_width as number, height: params.output_height as number };
    default:
      return size;
  }
}

/** Refuses a step whose resolved parameters would make an output over `limit` pixels. */
export function checkOutput(op: OpName, size: ImageSize, params: Record<string, unknown>, limit: number): ImageSize {
  const out = outputSize(op, size, params);
  if (out.width * out.height > limit) {
    throw Object.assign(
      new InvalidParamError(`expected an output of at most ${limit} pixels for ${op}, got ${out.width}×${out.height}`),
      // Mosaic's output size is its own field; the other operations' follows from several.
      { param: op === 'mosaic' ? 'output_width' : op },
    );
  }
  return out;
}

