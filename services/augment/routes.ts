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
import { componentSchema, fileFields, flattenObject, loadSpec, requestBodySchema, requestMediaTypes, type JsonSchema } from '../shared/openapi.ts';
import { acceptRawImages, readUpload } from '../shared/raw-body.ts';
import type { AugmentConfig } from './config.ts';
import { InvalidParamError, InvalidRequestError, intakeErrors } from './errors.ts';
import { MOSAIC_MIX_IMAGES } from './ops/mosaic.ts';
import { operations } from './ops/index.ts';
import { OP_NAMES, type ImageSize, type OpContext, type OpName } from './ops/types.ts';
import { runPipeline } from './pipeline.ts';
import { pipelineInput } from './source.ts';
import { createRng, randomSeed } from './random.ts';
import { augmentOne, type SingleResult } from './single.ts';
import { checkOutput, parseSteps } from './steps.ts';
import { targetsAnswer } from './targets/answer.ts';
import { MAX_MASKS, TARGET_FIELDS, hasTargets, readMosaicTargets, readTargets, splitMixFields, takeMixFields, type TargetRequest } from './targets/request.ts';

/** The fields of a request that are an operation's own parameters (not its targets). */
function withoutTargets(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([name]) => !(TARGET_FIELDS as readonly string[]).includes(name)));
}

/** The contract's operationId for `POST /v1/augment/{op}`: every operation's route is declared there. */
function operationIdOf(op: OpName): string {
  const post = loadSpec().paths[`/v1/augment/${op}`]?.post as { operationId?: string } | undefined;
  if (!post?.operationId) throw new Error(`openapi.yaml has no POST /v1/augment/${op}`);
  return post.operationId;
}

/** Operations that take one `mix_image`; mosaic takes MOSAIC_MIX_IMAGES. */
const SINGLE_MIX_OPS: readonly OpName[] = ['cutmix', 'mixup'];

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

/**
 * An operation's own field that has an output field's name: on that operation's route the one
 * field is both (jpeg's `quality` is the artefacts' quality and the answer's encoder quality;
 * when absent, the answer is encoded at the applied one), so its applied params sent back give
 * the same bytes in every format.
 */
const SHARED_OUTPUT_FIELDS: Partial<Record<OpName, keyof CommonFields>> = { jpeg: 'quality' };

export default async function augmentRoutes(app: FastifyInstance, options: { config: AugmentConfig }) {
  const { config } = options;
  const limits: IntakeLimits = {
    fileBytes: config.maxFileBytes,
    // image, up to three mix_image (mosaic), and up to MAX_MASKS each of mask and mix_mask.
    files: 1 + MOSAIC_MIX_IMAGES + 2 * MAX_MASKS,
    fieldBytes: config.maxFieldBytes,
    fields: config.maxFields,
    inputPixels: config.maxInputPixels,
  };
  acceptRawImages(app, config.maxFileBytes);
  const operationTimer = app.hasDecorator('metrics')
    ? app.metrics.histogram('augment_operation_duration_seconds', 'Time spent in one augmentation operation: apply only, or where the operation runs in one pass with decoding and encoding, that pass.', ['op'])
    : undefined;

  /**
   * The upload's fields coerced and checked by `contract`. The `mix_*` target fields are taken out
   * first, as given (one text per repetition): how many values each may have depends on the mix
   * images (`mixFieldSets`).
   */
  async function readFields(
    request: FastifyRequest,
    contract: ReturnType<typeof formContract>,
  ): Promise<{ form: Form; fields: Record<string, unknown>; mixFields: Record<string, string[]> }> {
    const form = await readUpload(request, limits, intakeErrors, contract.rawField);
    const mixFields = takeMixFields(form);
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
    return { form, fields, mixFields };
  }

  async function decodeMix(form: Form): Promise<RawImage | undefined> {
    if (!form.files.has('mix_image')) return undefined;
    return (await decodeImage(singleFile(form, 'mix_image', intakeErrors), limits, intakeErrors, 'mix_image')).raw;
  }

  /**
   * Mosaic's three mix images, their headers checked before any is decoded: with the image's
   * `imagePixels` they count together against the input pixel limit.
   */
  async function decodeMixes(form: Form, imagePixels: number): Promise<RawImage[]> {
    const files = form.files.get('mix_image') ?? [];
    if (files.length !== MOSAIC_MIX_IMAGES) {
      throw Object.assign(new InvalidRequestError(`expected ${MOSAIC_MIX_IMAGES} mix_image files (mosaic is a 2×2 grid), got ${files.length}`), { param: 'mix_image' });
    }
    let pixels = imagePixels;
    const metas: Awaited<ReturnType<typeof inspectImage>>[] = [];
    for (const [k, bytes] of files.entries()) {
      const name = `mix_image[${k}]`;
      if (bytes.length === 0) throw Object.assign(new InvalidRequestError(`file ${name} is empty`), { param: name });
      const meta = await inspectImage(bytes, limits, intakeErrors, name);
      const { width, height } = orientedSize(meta);
      pixels += width * height;
      if (pixels > limits.inputPixels) {
        throw Object.assign(new intakeErrors.PayloadTooLarge(`image and mix_image files hold ${pixels} pixels up to ${name}; the limit is ${limits.inputPixels} for all of them together`), { param: name });
      }
      metas.push(meta);
    }
    return Promise.all(files.map(async (bytes, k) => (await decodeImage(bytes, limits, intakeErrors, `mix_image[${k}]`, metas[k])).raw));
  }

  /**
   * The request's targets for the mix images it has: with three (mosaic) each `mix_*` field is
   * repeated once per image; with one (cutmix, mixup) it is given once and read as before.
   */
  async function mixTargets(
    fields: Record<string, unknown>,
    mixFields: Record<string, string[]>,
    form: Form,
    size: ImageSize,
    ctx: OpContext,
    uses: 'cutmix' | 'mixup' | 'mosaic' | undefined,
  ): Promise<TargetRequest | undefined> {
    const mixSchema = componentSchema('MixTargetFields');
    if (uses === 'mosaic') {
      const perMix = splitMixFields(mixFields, MOSAIC_MIX_IMAGES, mixSchema, intakeErrors);
      const given = hasTargets(fields, form) || perMix.some((set) => Object.keys(set).length > 0);
      return given ? readMosaicTargets(fields, perMix, form, size, ctx.mixes!, limits, config.maxTargets, intakeErrors) : undefined;
    }
    const [single] = splitMixFields(mixFields, 1, mixSchema, intakeErrors);
    const all = { ...fields, ...single };
    if (!hasTargets(all, form)) return undefined;
    return readTargets(all, form, size, uses ? ctx.mix : undefined, limits, config.maxTargets, intakeErrors, uses === 'mixup' ? 'any' : 'paired');
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
    const contract = formContract(operationIdOf(op));
    // Mosaic's mix_image repeats: decodeMixes counts it.
    if (op === 'mosaic') contract.required = contract.required.filter((name) => name !== 'mix_image');
    const operation = operations[op];
    app.post(`/v1/augment/${op}`, async (request, reply) => {
      const { form, fields, mixFields } = await readFields(request, contract);
      const { seed = randomSeed(), format, quality, layout, ...rest } = fields as CommonFields & Record<string, unknown>;
      const shared = SHARED_OUTPUT_FIELDS[op];
      const params = withoutTargets(shared && fields[shared] !== undefined ? { ...rest, [shared]: fields[shared] } : rest);
      const bytes = singleFile(form, 'image', intakeErrors);
      const meta = await inspectImage(bytes, limits, intakeErrors);
      const size = orientedSize(meta);
      const ctx: OpContext = op === 'mosaic' ? { mixes: await decodeMixes(form, size.width * size.height) } : { mix: await decodeMix(form) };
      const uses = op === 'mosaic' || op === 'cutmix' || op === 'mixup' ? op : undefined;
      const targets = await mixTargets(fields, mixFields, form, size, ctx, uses);
      const resolve = (size: ImageSize) => {
        const resolved = operation.sample(createRng(seed), size, params, ctx) as Record<string, unknown>;
        checkOutput(op, size, resolved, config.maxOutputPixels);
        return resolved;
      };
      const outputFormat = format ?? defaultOutputFormat(meta);
      // Sampling is deterministic: the same draw augmentOne's `resolve` will make (jpeg's quality does not depend on the size).
      const encoderQuality = shared && quality === undefined ? (resolve(orientedSize(meta))[shared] as number) : quality;
      const out = await augmentOne({ op, bytes, meta, resolve, ctx, format: outputFormat, quality: encoderQuality, layout, limits, timed, targets });
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
    const { form, fields, mixFields } = await readFields(request, { ...pipelineContract, fields: pipelineFields });
    const { seed = randomSeed(), format, quality, layout, count = 1, ops } = fields as unknown as CommonFields & { count?: number; ops: Array<Record<string, unknown>> };
    const steps = parseSteps(ops, intakeErrors);
    const mosaicAt = steps.findIndex((step) => step.op === 'mosaic');
    const singleAt = steps.findIndex((step) => SINGLE_MIX_OPS.includes(step.op));
    if (mosaicAt >= 0 && singleAt >= 0) {
      throw Object.assign(new InvalidParamError(`expected mosaic or cutmix/mixup steps in one pipeline, not both (their mix_image fields differ), got ops[${mosaicAt}] and ops[${singleAt}]`), { param: `ops[${singleAt}].op` });
    }
    const { input, size, format: inputFormat } = await pipelineInput(singleFile(form, 'image', intakeErrors), 'image', { limits, fastDecodePixels: config.fastJpegDecodePixels });
    let ctx: OpContext;
    let uses: 'cutmix' | 'mixup' | 'mosaic' | undefined;
    if (mosaicAt >= 0) {
      ctx = { mixes: await decodeMixes(form, size.width * size.height) };
      uses = 'mosaic';
    } else {
      ctx = { mix: await decodeMix(form) };
      if (singleAt >= 0 && !ctx.mix) {
        throw Object.assign(new InvalidRequestError(`missing file mix_image (the pipeline has a ${steps[singleAt]!.op} step)`), { param: 'mix_image' });
      }
      uses = singleAt < 0 ? undefined : steps.some((step) => step.op === 'cutmix') ? 'cutmix' : 'mixup';
    }
    const targets = await mixTargets(fields, mixFields, form, size, ctx, uses);
    const rng = createRng(seed);
    const outputFormat = format ?? inputFormat;
    const hooks = { beforeApply: (op: OpName, size: ImageSize, params: Record<string, unknown>) => checkOutput(op, size, params, config.maxOutputPixels), timed };
    if (count === 1 && !wantsJson(request) && !targets) {
      const only = await runPipeline(rng, input, steps, ctx, hooks);
      return sendImage(request, reply, only.image, outputFormat, quality, layout, { op: 'pipeline', seed, applied: only.applied });
    }
    // Each variant is encoded as soon as it is made, so a request holds one raw output at a time:
    // keeping all `count` raw images first let a small upload claim count × width × height × 4 bytes.
    const variants = [];
    for (let i = 0; i < count; i++) {
      const { image, applied, targets: moved } = await runPipeline(rng, input, steps, ctx, hooks, targets);
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
