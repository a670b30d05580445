import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { coerceObject, validateAgainst } from '../shared/form.ts';
import {
  CONTENT_TYPES,
  decodeImage,
  defaultOutputFormat,
  encodeImage,
  inspectImage,
  orientedSize,
  rejectUnknownFiles,
  singleFile,
  type Form,
  type IntakeLimits,
  type OutputFormat,
  type RawImage,
} from '../shared/intake.ts';
import type { NpyLayout } from '../shared/npy.ts';
import { fileFields, flattenObject, requestBodySchema, requestMediaTypes, type JsonSchema } from '../shared/openapi.ts';
import { acceptRawImages, readUpload } from '../shared/raw-body.ts';
import type { AugmentConfig } from './config.ts';
import { InvalidRequestError, intakeErrors } from './errors.ts';
import { operations } from './ops/index.ts';
import { OP_NAMES, type ImageSize, type OpContext, type OpName } from './ops/types.ts';
import { runPipeline } from './pipeline.ts';
import { createRng, randomSeed } from './random.ts';
import { augmentOne, type SingleResult } from './single.ts';
import { checkOutput, parseSteps } from './steps.ts';
import { targetsAnswer } from './targets/answer.ts';
import { MAX_MASKS, TARGET_FIELDS, hasTargets, readTargets, type TargetRequest } from './targets/request.ts';

/** The fields of a request that are an operation's own parameters (not its targets). */
function withoutTargets(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([name]) => !(TARGET_FIELDS as readonly string[]).includes(name)));
}

const OPERATION_IDS: Record<OpName, string> = {
  flip: 'augmentFlip',
  rotate: 'augmentRotate',
  crop: 'augmentCrop',
  scale: 'augmentScale',
  cutout: 'augmentCutout',
  cutmix: 'augmentCutmix',
};

/**
 * A multipart body schema split into its file fields and the schema of its text fields; and
 * whether the contract also takes the image as a raw body (fields in the query string then).
 */
function formContract(operationId: string): { files: string[]; required: string[]; fields: JsonSchema; rawField: string | undefined } {
  const body = flattenObject(requestBodySchema(operationId, 'multipart/form-data'));
  const files = fileFields(body);
  const properties = Object.fromEntries(Object.entries(body.properties ?? {}).filter(([name]) => !files.includes(name)));
  const required = (body.required ?? []).filter((name) => files.includes(name));
  return {
    files,
    required,
    fields: { ...body, properties, required: (body.required ?? []).filter((name) => !files.includes(name)) },
    rawField: requestMediaTypes(operationId).includes('image/jpeg') ? 'image' : undefined,
  };
}

function wantsJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  const json = accept.indexOf('application/json');
  if (json < 0) return false;
  const image = accept.indexOf('image/');
  return image < 0 || json < image;
}

interface CommonFields {
  seed?: number;
  format?: OutputFormat;
  quality?: number;
  layout?: NpyLayout;
}

export default async function augmentRoutes(app: FastifyInstance, options: { config: AugmentConfig }) {
  const { config } = options;
  const limits: IntakeLimits = {
    fileBytes: config.maxFileBytes,
    // image, mix_image, and up to MAX_MASKS each of mask and mix_mask.
    files: 2 + 2 * MAX_MASKS,
    fieldBytes: config.maxFieldBytes,
    fields: config.maxFields,
    inputPixels: config.maxInputPixels,
  };
  acceptRawImages(app, config.maxFileBytes);
  const operationTimer = app.hasDecorator('metrics')
    ? app.metrics.histogram('augment_operation_duration_seconds', 'Time spent in one augmentation operation: apply only, or where the operation runs in one pass with decoding and encoding, that pass.', ['op'])
    : undefined;

  async function readFields(request: FastifyRequest, contract: ReturnType<typeof formContract>): Promise<{ form: Form; fields: Record<string, unknown> }> {
    const form = await readUpload(request, limits, intakeErrors, contract.rawField);
    // Swagger UI's "Try it out" sends the optional list and file fields it was not given as empty
    // text: those are taken as absent (a non-empty value is still parsed and checked).
    for (const [name, values] of Object.entries(form.fields)) {
      const optional = contract.files.includes(name) || (TARGET_FIELDS as readonly string[]).includes(name);
      if (optional && values.every((value) => value === '')) delete form.fields[name];
    }
    rejectUnknownFiles(form, contract.files, intakeErrors);
    for (const name of contract.required) singleFile(form, name, intakeErrors);
    const fields = coerceObject(form.fields, contract.fields, intakeErrors);
    validateAgainst(fields, contract.fields, intakeErrors);
    return { form, fields };
  }

  async function decodeMix(form: Form): Promise<RawImage | undefined> {
    if (!form.files.has('mix_image')) return undefined;
    return (await decodeImage(singleFile(form, 'mix_image', intakeErrors), limits, intakeErrors, 'mix_image')).raw;
  }

  async function timed<T>(op: OpName, work: () => Promise<T>): Promise<T> {
    const end = operationTimer?.startTimer({ op });
    try {
      return await work();
    } finally {
      end?.();
    }
  }

  async function sendImage(
    request: FastifyRequest,
    reply: FastifyReply,
    raw: RawImage,
    format: OutputFormat,
    quality: number | undefined,
    layout: NpyLayout | undefined,
    summary: Record<string, unknown>,
  ) {
    const bytes = await encodeImage(raw, format, quality, layout);
    return sendEncoded(request, reply, { bytes, width: raw.width, height: raw.height }, format, summary);
  }

  function sendEncoded(request: FastifyRequest, reply: FastifyReply, out: SingleResult, format: OutputFormat, summary: Record<string, unknown>) {
    if (wantsJson(request)) {
      return reply.send({
        image: out.bytes.toString('base64'),
        contentType: CONTENT_TYPES[format],
        width: out.width,
        height: out.height,
        ...summary,
      });
    }
    return reply.header('x-augment-params', JSON.stringify(summary)).type(CONTENT_TYPES[format]).send(out.bytes);
  }

  for (const op of OP_NAMES) {
    const contract = formContract(OPERATION_IDS[op]);
    const operation = operations[op];
    app.post(`/v1/augment/${op}`, async (request, reply) => {
      const { form, fields } = await readFields(request, contract);
      const { seed = randomSeed(), format, quality, layout, ...rest } = fields as CommonFields & Record<string, unknown>;
      const params = withoutTargets(rest);
      const bytes = singleFile(form, 'image', intakeErrors);
      const meta = await inspectImage(bytes, limits, intakeErrors);
      const ctx: OpContext = { mix: await decodeMix(form) };
      const targets = hasTargets(fields, form)
        ? await readTargets(fields, form, orientedSize(meta), op === 'cutmix' ? ctx.mix : undefined, limits, config.maxTargets, intakeErrors)
        : undefined;
      const resolve = (size: ImageSize) => {
        const resolved = operation.sample(createRng(seed), size, params, ctx) as Record<string, unknown>;
        checkOutput(op, size, resolved, config.maxOutputPixels);
        return resolved;
      };
      const outputFormat = format ?? defaultOutputFormat(meta);
      const out = await augmentOne({ op, bytes, meta, resolve, ctx, format: outputFormat, quality, layout, limits, timed, targets });
      if (targets && out.targets) {
        // An image answer cannot carry masks: with targets the answer is JSON whatever the Accept.
        return reply.send({
          image: out.bytes.toString('base64'),
          contentType: CONTENT_TYPES[outputFormat],
          width: out.width,
          height: out.height,
          op,
          seed,
          params: out.params,
          targets: await targetsAnswer(out.targets, targets.format, out),
        });
      }
      return sendEncoded(request, reply, out, outputFormat, { op, seed, params: out.params });
    });
  }

  const pipelineContract = formContract('augmentPipeline');
  const pipelineOps = pipelineContract.fields.properties!.ops!;
  // The steps' own fields are checked per operation below, after `ops` is parsed as a list.
  const pipelineFields: JsonSchema = {
    ...pipelineContract.fields,
    properties: { ...pipelineContract.fields.properties, ops: { ...pipelineOps, items: { type: 'object' } } },
  };

  app.post('/v1/augment/pipeline', async (request, reply) => {
    const { form, fields } = await readFields(request, { ...pipelineContract, fields: pipelineFields });
    const { seed = randomSeed(), format, quality, layout, count = 1, ops } = fields as unknown as CommonFields & { count?: number; ops: Array<Record<string, unknown>> };
    const steps = parseSteps(ops, intakeErrors);
    const input = await decodeImage(singleFile(form, 'image', intakeErrors), limits, intakeErrors);
    const ctx: OpContext = { mix: await decodeMix(form) };
    const mixes = steps.some((step) => step.op === 'cutmix');
    if (mixes && !ctx.mix) {
      throw Object.assign(new InvalidRequestError('missing file mix_image (the pipeline has a cutmix step)'), { param: 'mix_image' });
    }
    const targets: TargetRequest | undefined = hasTargets(fields, form)
      ? await readTargets(fields, form, input.raw, mixes ? ctx.mix : undefined, limits, config.maxTargets, intakeErrors)
      : undefined;
    const rng = createRng(seed);
    const outputFormat = format ?? input.format;
    const hooks = { beforeApply: (op: OpName, size: ImageSize, params: Record<string, unknown>) => checkOutput(op, size, params, config.maxOutputPixels), timed };
    if (count === 1 && !wantsJson(request) && !targets) {
      const only = await runPipeline(rng, input.raw, steps, ctx, hooks);
      return sendImage(request, reply, only.image, outputFormat, quality, layout, { op: 'pipeline', seed, applied: only.applied });
    }
    // Each variant is encoded as soon as it is made, so a request holds one raw output at a time:
    // keeping all `count` raw images first let a small upload claim count × width × height × 4 bytes.
    const variants = [];
    for (let i = 0; i < count; i++) {
      const { image, applied, targets: moved } = await runPipeline(rng, input.raw, steps, ctx, hooks, targets);
      variants.push({
        image: (await encodeImage(image, outputFormat, quality, layout)).toString('base64'),
        contentType: CONTENT_TYPES[outputFormat],
        width: image.width,
        height: image.height,
        applied,
        ...(targets && moved ? { targets: await targetsAnswer(moved, targets.format, image) } : {}),
      });
    }
    return reply.send({ seed, variants });
  });
}
