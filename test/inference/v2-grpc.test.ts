import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { FastifyInstance } from 'fastify';
import { buildTestApp } from './helpers.ts';
import { le16, le32 } from '../helpers/tensors.ts';

/**
 * inference.GRPCInferenceService as a gRPC client calls it (a stub from the service's own .proto),
 * answered by the same repository and batchers as REST: ModelInfer equals /v2 infer byte for byte.
 */

const KEY = 'grpc-key-1';
const PROTO = fileURLToPath(new URL('../../services/inference/protocols/grpc_predict_v2.proto', import.meta.url));
const MEAN = 0.286;
const STD = 0.353;

const pixels = (k: number) => Uint8Array.from({ length: 784 }, (_, i) => (i * 29 + k * 71 + ((i * i) % 17)) % 256);
const normalised = (p: Uint8Array) => Float32Array.from(p, (v) => (v / 255 - MEAN) / STD);
const softmax = (row: number[]) => {
  const max = Math.max(...row);
  const e = row.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
};

type Unary = (request: object, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, response: any) => void) => void;

describe('Open Inference Protocol gRPC', () => {
  let app: FastifyInstance;
  let client: grpc.Client & Record<string, Unary>;
  let httpPort: number;

  before(async () => {
    app = await buildTestApp({ API_KEYS: KEY, MAX_IMAGES_PER_REQUEST: '8', MAX_QUEUE: '64', MAX_JSON_BYTES: String(64 * 1024) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    httpPort = (app.server.address() as AddressInfo).port;
    const port = await app.grpc.listen('127.0.0.1', 0);
    const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true, oneofs: true });
    const Service = (grpc.loadPackageDefinition(definition).inference as grpc.GrpcObject).GRPCInferenceService as grpc.ServiceClientConstructor;
    client = new Service(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 1024 * 1024 }) as never;
  });
  after(async () => {
    client?.close();
    await app?.close();
  });

  const call = (method: string, request: object, key = KEY) =>
    new Promise<any>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      if (key) metadata.set('x-api-key', key); // '' sends none
      client[method]!(request, metadata, (error, response) => (error ? reject(error) : resolve(response)));
    });
  const fails = async (promise: Promise<unknown>, code: grpc.status, pattern: RegExp) => {
    await assert.rejects(promise, (error: grpc.ServiceError) => {
      assert.equal(error.code, code, `${grpc.status[error.code]}: ${error.details}`);
      assert.match(error.details, pattern);
      return true;
    });
  };

  /** The REST binary answer's output bytes for the same tensor. */
  const restBytes = (tensor: Buffer, datatype: string, batch: number) =>
    new Promise<Buffer>((resolve, reject) => {
      const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [batch, 1, 28, 28], datatype, parameters: { binary_data_size: tensor.length } }], parameters: { binary_data_output: true } }));
      const body = Buffer.concat([header, tensor]);
      const req = httpRequest({ host: '127.0.0.1', port: httpPort, method: 'POST', path: '/v2/models/tiny-gray/infer', headers: { 'x-api-key': KEY, 'inference-header-content-length': String(header.length), 'content-length': String(body.length) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const all = Buffer.concat(chunks);
          if (res.statusCode !== 200) return reject(new Error(all.toString()));
          resolve(all.subarray(Number(res.headers['inference-header-content-length'])));
        });
      });
      req.on('error', reject);
      req.end(body);
    });

  test('health and metadata: liveness and readiness need no key; the rest does', async () => {
    assert.deepEqual(await call('ServerLive', {}, ''), { live: true });
    assert.deepEqual(await call('ServerReady', {}, ''), { ready: true });
    await fails(call('ServerMetadata', {}, ''), grpc.status.UNAUTHENTICATED, /API key/);
    await fails(call('ModelMetadata', { name: 'tiny-gray' }, 'wrong'), grpc.status.UNAUTHENTICATED, /API key/);
    assert.equal((await call('ServerMetadata', {})).name, 'augserve-inference');
    assert.deepEqual(await call('ModelMetadata', { name: 'tiny-gray' }), {
      name: 'tiny-gray', versions: ['1'], platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 1, 28, 28] }],
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }],
    });
    assert.deepEqual(await call('ModelReady', { name: 'tiny-gray', version: '1' }), { ready: true });
    await fails(call('ModelReady', { name: 'tiny-gray', version: '2' }), grpc.status.NOT_FOUND, /no version 2/);
    await fails(call('ModelMetadata', { name: 'nope' }), grpc.status.NOT_FOUND, /no model named nope/);
  });

  test('ModelInfer with raw_input_contents answers raw_output_contents equal, byte for byte, to REST', async () => {
    const tensor = le32(Float32Array.from([...normalised(pixels(0)), ...normalised(pixels(1))]));
    const response = await call('ModelInfer', {
      model_name: 'tiny-gray', id: 'g1',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 1, 28, 28] }],
      outputs: [{ name: 'logits' }],
      raw_input_contents: [tensor],
    });
    assert.equal(response.model_name, 'tiny-gray');
    assert.equal(response.model_version, '1');
    assert.equal(response.id, 'g1');
    assert.deepEqual(response.outputs.map((o: any) => ({ name: o.name, datatype: o.datatype, shape: o.shape })), [{ name: 'logits', datatype: 'FP32', shape: [2, 10] }]);
    assert.equal(response.raw_output_contents.length, 1);
    assert.ok(Buffer.from(response.raw_output_contents[0]).equals(await restBytes(tensor, 'FP32', 2)));
  });

  test('typed contents (fp32_contents, uint_contents) and raw FP16 agree with FP32 within 1e-3 in probabilities', async () => {
    const p = pixels(3);
    const f = normalised(p);
    const reference = await restBytes(le32(f), 'FP32', 1);
    const refProbs = softmax(Array.from({ length: 10 }, (_, i) => reference.readFloatLE(i * 4)));
    const typed = await call('ModelInfer', { model_name: 'tiny-gray', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1, 28, 28], contents: { fp32_contents: Array.from(f) } }] });
    assert.equal(typed.raw_output_contents.length, 0, 'typed in, typed out');
    assert.ok(le32(Float32Array.from(typed.outputs[0].contents.fp32_contents)).equals(reference));
    const uint8 = await call('ModelInfer', { model_name: 'tiny-gray', inputs: [{ name: 'input', datatype: 'UINT8', shape: [1, 1, 28, 28], contents: { uint_contents: Array.from(p) } }] });
    const fp16 = le16(f);
    const halfAnswer = await call('ModelInfer', { model_name: 'tiny-gray', inputs: [{ name: 'input', datatype: 'FP16', shape: [1, 1, 28, 28] }], raw_input_contents: [fp16] });
    const rawHalf = Buffer.from(halfAnswer.raw_output_contents[0]);
    for (const [what, logits] of [['UINT8', uint8.outputs[0].contents.fp32_contents as number[]], ['FP16', Array.from({ length: 10 }, (_, i) => rawHalf.readFloatLE(i * 4))]] as const) {
      softmax([...logits]).forEach((v, i) => assert.ok(Math.abs(v - refProbs[i]!) < 1e-3, `${what} class ${i}: ${v} vs ${refProbs[i]}`));
    }
  });

  test('bad calls are the right gRPC statuses, with the same messages as REST', async () => {
    const one = { name: 'input', datatype: 'FP32', shape: [1, 1, 28, 28] };
    await fails(call('ModelInfer', { model_name: 'nope', inputs: [one], raw_input_contents: [Buffer.alloc(3136)] }), grpc.status.NOT_FOUND, /no model named nope/);
    await fails(call('ModelInfer', { model_name: 'tiny-gray', model_version: '9', inputs: [one], raw_input_contents: [Buffer.alloc(3136)] }), grpc.status.NOT_FOUND, /no version 9/);
    await fails(call('ModelInfer', { model_name: 'tiny-gray', inputs: [one], raw_input_contents: [Buffer.alloc(3000)] }), grpc.status.INVALID_ARGUMENT, /expected 3136 bytes/);
    await fails(call('ModelInfer', { model_name: 'tiny-gray', inputs: [{ ...one, shape: [1, 3, 28, 28] }], raw_input_contents: [Buffer.alloc(3 * 3136)] }), grpc.status.INVALID_ARGUMENT, /expected shape/);
    await fails(call('ModelInfer', { model_name: 'tiny-gray', inputs: [one], raw_input_contents: [Buffer.alloc(3136), Buffer.alloc(3136)] }), grpc.status.INVALID_ARGUMENT, /one raw_input_contents entry per input/);
    await fails(call('ModelInfer', { model_name: 'tiny-gray', inputs: [{ ...one, datatype: 'FP16', contents: { fp32_contents: [1] } }] }), grpc.status.INVALID_ARGUMENT, /raw_input_contents for FP16/);
    await fails(call('ModelInfer', { model_name: 'tiny-gray', inputs: [{ ...one, shape: [9, 1, 28, 28] }], raw_input_contents: [Buffer.alloc(9 * 3136)] }), grpc.status.RESOURCE_EXHAUSTED, /limit is 8/);
    // Over MAX_JSON_BYTES (64 KiB here): grpc-js refuses the message before it is decoded.
    await fails(call('ModelInfer', { model_name: 'tiny-gray', inputs: [one], raw_input_contents: [Buffer.alloc(80 * 1024)] }), grpc.status.RESOURCE_EXHAUSTED, /larger than max|exceeds|max/i);
    await fails(call('ModelInfer', { model_name: 'tiny-gray', inputs: [one], raw_input_contents: [Buffer.alloc(3136)] }, ''), grpc.status.UNAUTHENTICATED, /API key/);
  });

  test('gRPC calls are counted per method and status in /metrics', async () => {
    const metrics = (await app.inject('/metrics')).body;
    const count = (method: string, code: string) => Number(metrics.match(new RegExp(`^grpc_requests_total\\{method="${method}",code="${code}"\\} (\\d+)`, 'm'))?.[1] ?? 0);
    assert.ok(count('ModelInfer', 'OK') >= 4, metrics.split('\n').filter((l) => l.startsWith('grpc_')).join('\n'));
    assert.ok(count('ModelInfer', 'INVALID_ARGUMENT') >= 4);
    assert.ok(count('ServerMetadata', 'UNAUTHENTICATED') >= 1);
  });
});

test('gRPC closes with the app: later calls are refused', async () => {
  const app = await buildTestApp();
  const port = await app.grpc.listen('127.0.0.1', 0);
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
  const Service = (grpc.loadPackageDefinition(definition).inference as grpc.GrpcObject).GRPCInferenceService as grpc.ServiceClientConstructor;
  const client = new Service(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Unary>;
  const live = () => new Promise<any>((resolve, reject) => client.ServerLive!({}, new grpc.Metadata(), (e, r) => (e ? reject(e) : resolve(r))));
  try {
    assert.deepEqual(await live(), { live: true });
    await app.close();
    await assert.rejects(live(), (error: grpc.ServiceError) => error.code === grpc.status.UNAVAILABLE);
  } finally {
    client.close();
    await app.close();
  }
});
