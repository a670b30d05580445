import { gunzipSync, inflateSync } from 'node:zlib';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { validateAgainst } from '../../shared/form.ts';
import { componentSchema } from '../../shared/openapi.ts';
import type { components } from '../../shared/api-types.ts';
import type { InferenceConfig } from '../config.ts';
import { checkVersion, inferTensors, modelMetadata, modelRef } from '../data-plane.ts';
import { precompile } from '../routes/intake.ts';
import { InvalidParamError, InvalidRequestError, PayloadTooLargeError, UnsupportedMediaError, intakeErrors } from '../errors.ts';
import { HEADER_LENGTH, binaryOutputs, encodeAnswer, parseJson, readInputs, splitBody, type V2RequestJson } from './v2-binary.ts';

type Schemas = components['schemas'];

type NameParams = { Params: { name: string } };
type VersionParams = { Params: { name: string; version?: string } };

/** Fastify's own codes that are the client's fault, with the status the OIP answer gets. */
const CLIENT_ERRORS: Record<string, [status: number, message?: string]> = {
  // Only a Content-Type header that is not a media type at all reaches this: every valid one is read.
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [400, 'the Content-Type header is not a valid media type'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400],
  FST_ERR_VALIDATION: [400],
};

/** The binary extension is asked for by its media type or by the header length alone. */
function isBinary(request: FastifyRequest): boolean {
  return request.headers[HEADER_LENGTH] !== undefined || /^application\/octet-stream\b/i.test(request.headers['content-type'] ?? '');
}

/**
 * The body as sent before compression: Triton's client may gzip or deflate its requests
 * (`Content-Encoding`). The decompressed size is bounded by the same limit as the body.
 */
function decompressed(body: Buffer, encoding: string | undefined, limit: number): Buffer {
  const name = (encoding ?? 'identity').trim().toLowerCase();
  if (name === 'identity' || name === '') return body;
  if (name !== 'gzip' && name !== 'deflate') throw new UnsupportedMediaError(`expected Content-Encoding gzip, deflate or identity, got ${JSON.stringify(name.slice(0, 40))}`);
  try {
    return (name === 'gzip' ? gunzipSync : inflateSync)(body, { maxOutputLength: limit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new PayloadTooLargeError(`the ${name} body inflates beyond ${limit} bytes`);
    throw new InvalidRequestError(`the body does not decompress as ${name}: ${(error as Error).message}`);
  }
}

/** An optional JSON body (repository extension): nothing sent reads as `{}`. */
function optionalJson(body: unknown): Record<string, unknown> {
  if (!Buffer.isBuffer(body) || body.length === 0) return {};
  const parsed = parseJson(body);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidRequestError('expected a JSON object for the body');
  return parsed as Record<string, unknown>;
}

/**
 * The Open Inference Protocol (KServe V2) REST endpoints, registered under the `/v2` prefix: an
 * adapter that translates requests into the data plane (data-plane.ts) and the repository.
 * Encapsulated (not fastify-plugin) so that what it sets stays under `/v2`:
 * - every body is read as bytes and framed here, whatever its Content-Type (the protocol's
 *   clients send JSON with none at all), so /v1's multipart and JSON parsers are untouched;
 * - every answer that is JSON says `application/json` exactly (KServe's client reads error
 *   bodies only then), and errors, those of shared hooks (API keys, overload) included, are
 *   `{"error": "..."}` as the protocol says, not problem+json.
 */
export default async function openInferenceRoutes(app: FastifyInstance, options: { config: InferenceConfig }) {
  const { config } = options;
  const requestSchema = componentSchema('V2InferRequest');
  precompile(requestSchema);
  const limits = { maxImagesPerRequest: config.maxImagesPerRequest };

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.maxJsonBytes }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const [mapped, message] = CLIENT_ERRORS[error.code] ?? [];
    const status = mapped ?? (error.validation ? 400 : error.statusCode && error.statusCode >= 400 ? error.statusCode : 500);
    if (status >= 500 && status !== 503 && status !== 504) request.log.error({ err: error }, 'request failed');
    if (status === 503) reply.header('retry-after', '1');
    return reply.code(status).send({ error: status === 500 ? 'internal error' : message ?? error.message });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}` }));

  app.addHook('onSend', async (_request, reply, payload) => {
    const type = String(reply.getHeader('content-type') ?? '');
    if (type.startsWith('application/problem+json') && typeof payload === 'string') {
      const problem = JSON.parse(payload) as { detail?: string; title?: string };
      reply.header('content-type', 'application/json');
      return JSON.stringify({ error: problem.detail ?? problem.title ?? 'error' });
    }
    if (type.startsWith('application/json')) reply.header('content-type', 'application/json');
    return payload;
  });


  app.get('', async () => ({ name: 'augserve-inference', version: '0.1.0', extensions: ['binary_tensor_data', 'model_repository'] }) satisfies Schemas['V2ServerMetadata']);

  app.get('/health/live', { config: { public: true } }, async () => ({ live: true }));

  app.get('/health/ready', { config: { public: true } }, async (_request, reply) => {
    const { ready } = app.models.readiness();
    return reply.code(ready ? 200 : 503).send({ ready });
  });

  const metadata = async (request: FastifyRequest<VersionParams>) =>
    modelMetadata(app.models, request.params.name, request.params.version) satisfies Schemas['V2ModelMetadata'];
  app.get<VersionParams>('/models/:name', metadata);
  app.get<VersionParams>('/models/:name/versions/:version', metadata);

  const ready = async (request: FastifyRequest<VersionParams>, reply: FastifyReply) => {
    const { name, version } = request.params;
    checkVersion(app.models, name, version);
    const isReady = app.models.isReady(modelRef(name, version));
    return reply.code(isReady ? 200 : 503).send({ name, ready: isReady });
  };
  app.get<VersionParams>('/models/:name/ready', ready);
  app.get<VersionParams>('/models/:name/versions/:version/ready', ready);

  const infer = async (request: FastifyRequest<VersionParams>, reply: FastifyReply) => {
    const { name, version } = request.params;
    checkVersion(app.models, name, version);
    app.models.get(modelRef(name, version)); // 404 / 503 before reading the body
    if (!Buffer.isBuffer(request.body)) throw new InvalidRequestError('empty body: expected a JSON inference request');
    const headerLength = request.headers[HEADER_LENGTH];
    if (isBinary(request) && headerLength === undefined) {
      throw new InvalidRequestError('an application/octet-stream body needs the Inference-Header-Content-Length header (the length of its JSON part)');
    }
    const body0 = decompressed(request.body, request.headers['content-encoding'], config.maxJsonBytes);
    const { json, tail } = splitBody(body0, headerLength);
    const body = parseJson(json);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidRequestError(`expected a JSON object (the inference request) for the body, got ${Array.isArray(body) ? 'an array' : body === null ? 'null' : `a ${typeof body}`}`);
    validateAgainst(body, requestSchema, intakeErrors);
    const parsed = body as V2RequestJson;
    const binary = binaryOutputs(parsed);
    const answer = await inferTensors(app.models, {
      model: name,
      version,
      id: parsed.id,
      inputs: readInputs(parsed, tail),
      outputs: parsed.outputs?.map((o) => o.name),
    }, limits);
    const encoded = encodeAnswer(answer, binary);
    if ('json' in encoded) return encoded.json satisfies Schemas['V2InferResponse'];
    return reply.type('application/octet-stream').header('inference-header-content-length', String(encoded.headerLength)).send(encoded.body);
  };
  app.post<VersionParams>('/models/:name/infer', infer);
  app.post<VersionParams>('/models/:name/versions/:version/infer', infer);

  // The model repository extension (Triton's): operator endpoints, an API key always required.
  app.post('/repository/index', { config: { admin: true } }, async (request) => {
    const body = optionalJson(request.body);
    if (body.ready !== undefined && typeof body.ready !== 'boolean') throw new InvalidParamError(`expected true or false for ready, got ${JSON.stringify(body.ready)}`);
    const index = await app.models.index();
    return (body.ready ? index.filter((m) => m.state === 'READY') : index) satisfies Schemas['V2RepositoryIndex'];
  });

  app.post<NameParams>('/repository/models/:name/load', { config: { admin: true } }, async (request) => {
    const parameters = optionalJson(request.body).parameters as Record<string, unknown> | undefined;
    let override: unknown;
    if (parameters?.config !== undefined) {
      if (typeof parameters.config !== 'string') throw new InvalidParamError(`expected a JSON string for parameters.config, got ${JSON.stringify(parameters.config)}`);
      try {
        override = JSON.parse(parameters.config);
      } catch (error) {
        throw new InvalidParamError(`expected JSON for parameters.config: ${(error as Error).message}`);
      }
    }
    const model = await app.models.reload(request.params.name, override);
    request.log.info({ model: model.name, provider: model.execution_provider, override: override !== undefined }, 'model loaded by an operator (V2 repository)');
    return {};
  });

  app.post<NameParams>('/repository/models/:name/unload', { config: { admin: true } }, async (request) => {
    const parameters = optionalJson(request.body).parameters as Record<string, unknown> | undefined;
    const dependents = parameters?.unload_dependents;
    if (dependents !== undefined && typeof dependents !== 'boolean') throw new InvalidParamError(`expected true or false for parameters.unload_dependents, got ${JSON.stringify(dependents)}`);
    await app.models.unload(request.params.name);
    request.log.info({ model: request.params.name }, 'model unloaded by an operator (V2 repository)');
    return {};
  });
}
