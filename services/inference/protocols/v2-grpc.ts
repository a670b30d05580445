/**
 * The Open Inference Protocol's gRPC service (inference.GRPCInferenceService, the .proto beside
 * this file): an adapter over the same data plane, repository, batchers and workers as REST.
 * API keys come from the `x-api-key` metadata (or `authorization: Bearer`), as REST's headers;
 * messages over MAX_JSON_BYTES are refused by grpc-js itself (RESOURCE_EXHAUSTED); RPCs in
 * flight beyond MAX_CONCURRENT_REQUESTS are UNAVAILABLE; on close, calls in flight finish
 * (within SHUTDOWN_GRACE_MS) before the repository stops its workers.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { keyMatches } from '../../shared/access.ts';
import type { InferenceConfig } from '../config.ts';
import { checkVersion, inferTensors, modelMetadata, modelRef, type TensorIn } from '../data-plane.ts';
import { InvalidParamError, InvalidRequestError } from '../errors.ts';

const PROTO = fileURLToPath(new URL('./grpc_predict_v2.proto', import.meta.url));

/**
 * The gRPC server of one app, reachable from the root instance as `app.grpc`: the plugin fills
 * it with the service; whoever listens (server.ts, tests) binds it; the app's close stops it.
 */
export class GrpcEndpoint {
  server?: grpc.Server;
  /** The bound port, once listening. */
  port?: number;

  /**
   * Listens on host:port (port 0 = an ephemeral one); resolves with the bound port.
   * @example const port = await app.grpc.listen('127.0.0.1', 0);
   */
  listen(host: string, port: number): Promise<number> {
    const server = this.server;
    if (!server) return Promise.reject(new Error('the gRPC service is not registered'));
    return new Promise((resolve, reject) => {
      server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => {
        if (error) return reject(error);
        this.port = bound;
        resolve(bound);
      });
    });
  }

  /** Refuses new calls, lets those in flight finish for up to `graceMs`, then cuts the rest. */
  close(graceMs: number): Promise<void> {
    const server = this.server;
    if (!server || this.port === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The Open Inference Protocol's gRPC server (bound by whoever listens). */
    grpc: GrpcEndpoint;
  }
}

export interface GrpcPluginOptions {
  config: InferenceConfig;
}

/** The service's status of an error (INF_… errors carry their HTTP status) as a gRPC status. */
function grpcStatus(error: { statusCode?: number }): grpc.status {
  switch (error.statusCode) {
    case 400: return grpc.status.INVALID_ARGUMENT;
    case 401: return grpc.status.UNAUTHENTICATED;
    case 404: return grpc.status.NOT_FOUND;
    case 413: return grpc.status.RESOURCE_EXHAUSTED;
    case 422: return grpc.status.FAILED_PRECONDITION;
    case 503: return grpc.status.UNAVAILABLE;
    case 504: return grpc.status.DEADLINE_EXCEEDED;
    default: return grpc.status.INTERNAL;
  }
}

interface TensorContents {
  fp32_contents?: number[];
  uint_contents?: number[];
  [other: string]: unknown;
}

interface InferRequestMessage {
  model_name: string;
  model_version: string;
  id: string;
  inputs: { name: string; datatype: string; shape: number[]; contents?: TensorContents | null }[];
  outputs: { name: string }[];
  raw_input_contents: Buffer[];
}

/** One input as the data plane takes it: raw bytes, or the typed contents that fit its datatype. */
function tensorIn(input: InferRequestMessage['inputs'][number], raw: Buffer | undefined, i: number): TensorIn {
  const base = { name: input.name, datatype: input.datatype, shape: input.shape };
  const contents = input.contents ?? undefined;
  const filled = contents ? Object.entries(contents).filter(([, v]) => Array.isArray(v) && v.length > 0).map(([k]) => k) : [];
  if (raw !== undefined) {
    if (filled.length > 0) throw new InvalidRequestError(`inputs[${i}] has contents and raw_input_contents; send one`);
    return { ...base, raw };
  }
  const field = input.datatype === 'FP32' ? 'fp32_contents' : input.datatype === 'UINT8' ? 'uint_contents' : undefined;
  if (!field) throw new InvalidParamError(`expected raw_input_contents for ${input.datatype} inputs[${i}] (only FP32 and UINT8 have typed contents here)`);
  const odd = filled.filter((k) => k !== field);
  if (odd.length > 0) throw new InvalidParamError(`expected ${field} for ${input.datatype} inputs[${i}], got ${odd.join(', ')}`);
  return { ...base, values: (contents?.[field] as number[] | undefined) ?? [] };
}

/**
 * Fastify plugin: builds the gRPC server over `app.models` into `app.grpc`; stops it, when it
 * listens, before the repository closes.
 */
async function grpcPlugin(app: FastifyInstance, options: GrpcPluginOptions) {
  const { config } = options;
  if (!app.hasDecorator('grpc')) app.decorate('grpc', new GrpcEndpoint());
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
  const service = (grpc.loadPackageDefinition(definition).inference as grpc.GrpcObject).GRPCInferenceService as grpc.ServiceClientConstructor;
  const keys = config.apiKeys.map((key) => createHash('sha256').update(key).digest());
  const limits = { maxImagesPerRequest: config.maxImagesPerRequest };
  let inFlight = 0;

  const calls = app.hasDecorator('metrics')
    ? app.metrics.counter('grpc_requests_total', 'gRPC calls answered, per method and status code.', ['method', 'code'])
    : undefined;

  /** Wraps one unary handler: key check (unless public), concurrency bound, errors as gRPC statuses. */
  const unary = <Req, Res>(method: string, isPublic: boolean, handle: (request: Req) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> =>
    (call, callback) => {
      const answer = (error: grpc.ServiceError | null, value?: Res) => {
        calls?.inc({ method, code: grpc.status[error?.code ?? grpc.status.OK] });
        callback(error, value);
      };
      const fail = (code: grpc.status, details: string) => answer(Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() }));
      if (!isPublic && keys.length > 0) {
        const header = call.metadata.get('x-api-key')[0] ?? '';
        const bearer = String(call.metadata.get('authorization')[0] ?? '');
        const presented = String(header) || (bearer.startsWith('Bearer ') ? bearer.slice(7) : '');
        if (!keyMatches(presented || undefined, keys)) return fail(grpc.status.UNAUTHENTICATED, 'a valid API key is needed (x-api-key or authorization: Bearer metadata)');
      }
      if (inFlight >= config.maxConcurrentRequests) return fail(grpc.status.UNAVAILABLE, `more than ${config.maxConcurrentRequests} requests in progress`);
      inFlight++;
      Promise.resolve()
        .then(() => handle(call.request))
        .then((value) => answer(null, value), (error: Error & { statusCode?: number }) => {
          const code = grpcStatus(error);
          if (code === grpc.status.INTERNAL) app.log.error({ err: error, method }, 'gRPC call failed');
          fail(code, code === grpc.status.INTERNAL ? 'internal error' : error.message);
        })
        .finally(() => inFlight--);
    };


  const server = new grpc.Server({
    'grpc.max_receive_message_length': config.maxJsonBytes,
    'grpc.max_send_message_length': config.maxJsonBytes,
  });
  server.addService(service.service, {
    ServerLive: unary('ServerLive', true, () => ({ live: true })),
    ServerReady: unary('ServerReady', true, () => ({ ready: app.models.readiness().ready })),
    ModelReady: unary('ModelReady', false, (request: { name: string; version: string }) => {
      checkVersion(app.models, request.name, request.version || undefined);
      return { ready: app.models.isReady(modelRef(request.name, request.version || undefined)) };
    }),
    ServerMetadata: unary('ServerMetadata', false, () => ({ name: 'augserve-inference', version: '0.1.0', extensions: [] })),
    ModelMetadata: unary('ModelMetadata', false, (request: { name: string; version: string }) => {
      const meta = modelMetadata(app.models, request.name, request.version || undefined);
      // TensorMetadata has no field for accepted_datatypes: gRPC clients read them from REST.
      return { ...meta, inputs: meta.inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })) };
    }),
    ModelInfer: unary('ModelInfer', false, async (request: InferRequestMessage) => {
      const raw = request.raw_input_contents;
      if (raw.length > 0 && raw.length !== request.inputs.length) {
        throw new InvalidRequestError(`expected one raw_input_contents entry per input (${request.inputs.length}), got ${raw.length}`);
      }
      const answer = await inferTensors(app.models, {
        model: request.model_name,
        version: request.model_version || undefined,
        id: request.id || undefined,
        inputs: request.inputs.map((input, i) => tensorIn(input, raw.length > 0 ? raw[i] : undefined, i)),
        outputs: request.outputs.length > 0 ? request.outputs.map((o) => o.name) : undefined,
      }, limits);
      const asRaw = raw.length > 0;
      return {
        model_name: answer.model_name,
        model_version: answer.model_version,
        id: answer.id ?? '',
        outputs: answer.outputs.map(({ data, ...tensor }) => (asRaw ? tensor : { ...tensor, contents: { fp32_contents: Array.from(data) } })),
        raw_output_contents: asRaw ? answer.outputs.map(({ data }) => Buffer.from(data.buffer, data.byteOffset, data.byteLength)) : [],
      };
    }),
  });

  app.grpc.server = server;
  // Before onClose (where the repository stops its workers): calls in flight finish first.
  app.addHook('preClose', () => app.grpc.close(config.shutdownGraceMs));
}

export default fp(grpcPlugin, { name: 'inference-grpc', fastify: '5.x', dependencies: ['inference-repository'] });
