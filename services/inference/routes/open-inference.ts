import type { FastifyError, FastifyInstance } from 'fastify';
import { validateAgainst } from '../../shared/form.ts';
import { componentSchema } from '../../shared/openapi.ts';
import type { components } from '../../shared/api-types.ts';
import type { InferenceConfig } from '../config.ts';
import { precompile } from './intake.ts';
import { InvalidParamError, InvalidRequestError, PayloadTooLargeError, UnsupportedMediaError, intakeErrors } from '../errors.ts';

type Schemas = components['schemas'];
type InferRequest = Schemas['V2InferRequest'];

type NameParams = { Params: { name: string } };

/** Fastify's own codes that are the client's fault, with the status the OIP answer gets. */
const CLIENT_ERRORS: Record<string, number> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 415,
  FST_ERR_CTP_BODY_TOO_LARGE: 413,
  FST_ERR_CTP_EMPTY_JSON_BODY: 400,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 400,
  FST_ERR_VALIDATION: 400,
};

/** Flattens nested `data` row-major; throws unless every leaf is a finite number. */
function flatten(data: unknown[], expected: number): Float32Array {
  const out = new Float32Array(expected);
  let n = 0;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (typeof node !== 'number' || !Number.isFinite(node)) throw new InvalidParamError(`expected finite numbers in inputs[0].data, got ${JSON.stringify(node)}`);
    if (n >= expected) throw new InvalidParamError(`expected ${expected} values in inputs[0].data (the product of its shape), got more`);
    out[n++] = node;
  };
  visit(data);
  if (n !== expected) throw new InvalidParamError(`expected ${expected} values in inputs[0].data (the product of its shape), got ${n}`);
  return out;
}

/**
 * The Open Inference Protocol (KServe V2) REST endpoints, registered under the `/v2` prefix.
 * Encapsulated (not fastify-plugin) so that its errors, unknown `/v2/...` routes included, are
 * `{"error": "..."}` as the protocol says, not problem+json.
 */
export default async function openInferenceRoutes(app: FastifyInstance, options: { config: InferenceConfig }) {
  const { config } = options;
  const requestSchema = componentSchema('V2InferRequest');
  precompile(requestSchema);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = CLIENT_ERRORS[error.code] ?? (error.validation ? 400 : error.statusCode && error.statusCode >= 400 ? error.statusCode : 500);
    if (status >= 500 && status !== 503 && status !== 504) request.log.error({ err: error }, 'request failed');
    if (status === 503) reply.header('retry-after', '1');
    return reply.code(status).send({ error: status === 500 ? 'internal error' : error.message });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}` }));

  app.get('', async () => ({ name: 'augserve-inference', version: '0.1.0', extensions: [] }) satisfies Schemas['V2ServerMetadata']);

  app.get('/health/live', { config: { public: true } }, async () => ({ live: true }));

  app.get('/health/ready', { config: { public: true } }, async (_request, reply) => {
    const { ready } = app.models.readiness();
    return reply.code(ready ? 200 : 503).send({ ready });
  });

  app.get<NameParams>('/models/:name', async (request) => {
    const meta = app.models.metadata(request.params.name);
    return {
      name: meta.name,
      versions: meta.version ? [meta.version] : [],
      platform: 'onnxruntime_onnx',
      inputs: meta.input ? [{ name: meta.input.name, datatype: meta.input.datatype, shape: meta.input.shape }] : [],
      outputs: meta.output ? [{ name: meta.output.name, datatype: 'FP32', shape: meta.output.shape }] : [],
    } satisfies Schemas['V2ModelMetadata'];
  });

  app.get<NameParams>('/models/:name/ready', async (request, reply) => {
    const meta = app.models.metadata(request.params.name);
    return reply.code(meta.ready ? 200 : 503).send({ name: meta.name, ready: meta.ready });
  });

  app.post<NameParams>('/models/:name/infer', { bodyLimit: config.maxJsonBytes }, async (request) => {
    const { name } = request.params;
    const { config: model } = app.models.get(name);
    if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) throw new UnsupportedMediaError('expected an application/json body');
    validateAgainst(request.body, requestSchema, intakeErrors);
    const body = request.body as InferRequest;
    const input = body.inputs[0]!;
    if (input.name !== model.input.name) throw new InvalidParamError(`expected input ${model.input.name} for inputs[0].name, got ${JSON.stringify(input.name)}`);
    if (input.datatype !== 'FP32') throw new InvalidParamError(`expected FP32 for inputs[0].datatype, got ${JSON.stringify(input.datatype)}`);
    const declared = model.input.shape;
    const fits = input.shape.length === declared.length && input.shape.every((d, i) => (declared[i] === -1 ? d >= 1 : d === declared[i]));
    if (!fits) throw new InvalidParamError(`expected shape [${declared.join(', ')}] (-1 = any batch) for inputs[0].shape, got [${input.shape.join(', ')}]`);
    const batch = input.shape[0]!;
    if (batch > config.maxImagesPerRequest) throw new PayloadTooLargeError(`batch of ${batch}; the limit is ${config.maxImagesPerRequest}`);
    for (const output of body.outputs ?? []) {
      if (output.name !== model.output.name) throw new InvalidRequestError(`expected output ${model.output.name} for outputs[].name, got ${JSON.stringify(output.name)}`);
    }
    const perImage = declared.slice(1).reduce((a, b) => a * b, 1);
    const data = flatten(input.data, batch * perImage);
    const rows = Array.from({ length: batch }, (_, i) => data.subarray(i * perImage, (i + 1) * perImage));
    const outputs = await app.models.infer(name, rows);
    const classes = model.labels.length;
    const flat = new Array<number>(batch * classes);
    outputs.forEach((row, i) => row.forEach((v, j) => (flat[i * classes + j] = v)));
    return {
      model_name: name,
      model_version: model.version,
      ...(body.id !== undefined ? { id: body.id } : {}),
      outputs: [{ name: model.output.name, datatype: 'FP32', shape: [batch, classes], data: flat }],
    } satisfies Schemas['V2InferResponse'];
  });
}
