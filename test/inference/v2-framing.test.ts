import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { FIXTURE_REPOSITORY, buildTestApp } from './helpers.ts';
import { le16, le32 } from '../helpers/tensors.ts';

/**
 * The Open Inference Protocol's REST framing as clients send it, over a listening server and raw
 * HTTP (Node's fetch would add a Content-Type): no Content-Type, the binary extension both ways,
 * FP16 and UINT8 inputs, versioned paths, errors as `{"error"}` under `application/json` exactly.
 */

const MEAN = 0.286;
const STD = 0.353;
const PER_IMAGE = 784;

/** Deterministic 0-255 pixels for image k. */
const pixels = (k: number) => Uint8Array.from({ length: PER_IMAGE }, (_, i) => (i * 37 + k * 101 + ((i * i) % 13)) % 256);
/** What the server makes of those pixels: (p / 255 - mean) / std. */
const normalised = (p: Uint8Array) => Float32Array.from(p, (v) => (v / 255 - MEAN) / STD);

/** A binary-framed body: the JSON header, then the tensors. */
function framed(header: unknown, ...tensors: Buffer[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...tensors]), headerLength: json.length };
}

function softmax(logits: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(logits));
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

interface Raw {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

describe('Open Inference Protocol REST framing, as clients send it (listening server)', () => {
  let app: FastifyInstance;
  let port: number;
  before(async () => {
    app = await buildTestApp({ MAX_IMAGES_PER_REQUEST: '8', MAX_QUEUE: '64' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });
  after(() => app.close());

  /** One raw HTTP request: exactly the headers given, nothing added but Host and Content-Length. */
  const send = (method: string, path: string, body?: Buffer, headers: Record<string, string> = {}) =>
    new Promise<Raw>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(body);
    });

  const json = (raw: Raw) => JSON.parse(raw.body.toString('utf8'));
  const expectError = (raw: Raw, status: number, pattern: RegExp) => {
    assert.equal(raw.status, status, raw.body.toString());
    assert.equal(raw.headers['content-type'], 'application/json');
    const body = json(raw);
    assert.deepEqual(Object.keys(body), ['error']);
    assert.match(body.error, pattern);
  };

  /** The answer's header and output bytes, parsed back as a client does. */
  function unframe(raw: Raw): { header: any; tensors: Buffer[] } {
    assert.equal(raw.status, 200, raw.body.toString());
    assert.equal(raw.headers['content-type'], 'application/octet-stream');
    const length = Number(raw.headers['inference-header-content-length']);
    const header = JSON.parse(raw.body.subarray(0, length).toString('utf8'));
    const tensors: Buffer[] = [];
    let offset = length;
    for (const output of header.outputs) {
      const size = output.parameters?.binary_data_size;
      if (size === undefined) continue;
      tensors.push(raw.body.subarray(offset, offset + size));
      offset += size;
    }
    assert.equal(offset, raw.body.length, 'the binary_data_size of the outputs add up to the body');
    return { header, tensors };
  }

  const jsonInput = (images: Float32Array[]) => ({
    inputs: [{ name: 'input', shape: [images.length, 1, 28, 28], datatype: 'FP32', data: images.flatMap((x) => Array.from(x)) }],
  });

  test('an infer body with no Content-Type (Triton\'s client) is JSON; the answer says application/json exactly', async () => {
    const images = [normalised(pixels(0)), normalised(pixels(1))];
    const raw = await send('POST', '/v2/models/tiny-gray/infer', Buffer.from(JSON.stringify({ id: 'a', ...jsonInput(images) })));
    assert.equal(raw.status, 200, raw.body.toString());
    assert.equal(raw.headers['content-type'], 'application/json');
    const body = json(raw);
    assert.equal(body.id, 'a');
    assert.deepEqual(body.outputs[0].shape, [2, 10]);
    // Any non-binary type reads as JSON too, with the same answer.
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8']) {
      const again = await send('POST', '/v2/models/tiny-gray/infer', Buffer.from(JSON.stringify({ id: 'a', ...jsonInput(images) })), { 'content-type': type });
      assert.deepEqual(json(again), body, type);
    }
  });

  test('a mistyped model name without Content-Type says which model, not "Unsupported Media Type"', async () => {
    expectError(await send('POST', '/v2/models/tiny-grey/infer', Buffer.from(JSON.stringify(jsonInput([normalised(pixels(0))])))), 404, /no model named tiny-grey/);
  });

  const malformed: Array<[string, Buffer | undefined, Record<string, string>, RegExp]> = [
    ['not JSON', Buffer.from('{"inputs": ['), {}, /not valid JSON/],
    ['an empty body', undefined, {}, /empty body/],
    ['JSON without inputs', Buffer.from('{"id": "x"}'), {}, /missing field inputs/],
    ['a Content-Type that is no media type', Buffer.from('{}'), { 'content-type': 'garbage' }, /Content-Type/],
    ['octet-stream without the header length', Buffer.from('{}'), { 'content-type': 'application/octet-stream' }, /Inference-Header-Content-Length/],
  ];
  for (const [name, body, headers, pattern] of malformed) {
    test(`a malformed request (${name}) is a 400 {error} naming it`, async () => expectError(await send('POST', '/v2/models/tiny-gray/infer', body, headers), 400, pattern));
  }

  test('binary request and binary answer: the outputs parsed back byte for byte equal the JSON answer\'s values', async () => {
    const images = [normalised(pixels(2)), normalised(pixels(3)), normalised(pixels(4))];
    const reference = json(await send('POST', '/v2/models/tiny-gray/infer', Buffer.from(JSON.stringify(jsonInput(images)))));
    const tensor = le32(Float32Array.from(images.flatMap((x) => Array.from(x))));
    const { body, headerLength } = framed({
      id: 'bin',
      inputs: [{ name: 'input', shape: [3, 1, 28, 28], datatype: 'FP32', parameters: { binary_data_size: tensor.length } }],
      outputs: [{ name: 'logits', parameters: { binary_data: true } }],
    }, tensor);
    // Triton's client: the header length and no Content-Type.
    const raw = await send('POST', '/v2/models/tiny-gray/infer', body, { 'inference-header-content-length': String(headerLength) });
    const { header, tensors } = unframe(raw);
    assert.equal(header.id, 'bin');
    assert.deepEqual(header.outputs, [{ name: 'logits', datatype: 'FP32', shape: [3, 10], parameters: { binary_data_size: 120 } }]);
    // The JSON answer's numbers are the float32 values the binary one carries: identical bytes.
    assert.ok(tensors[0]!.equals(le32(Float32Array.from(reference.outputs[0].data))));
    // KServe's client: application/octet-stream and request-level binary_data_output.
    const kserve = framed({ inputs: [{ name: 'input', shape: [3, 1, 28, 28], datatype: 'FP32', parameters: { binary_data_size: tensor.length } }], parameters: { binary_data_output: true } }, tensor);
    const again = unframe(await send('POST', '/v2/models/tiny-gray/infer', kserve.body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(kserve.headerLength) }));
    assert.ok(again.tensors[0]!.equals(tensors[0]!));
    // A binary request may ask for a JSON answer: an output's own binary_data: false wins.
    const mixed = framed({ inputs: [{ name: 'input', shape: [3, 1, 28, 28], datatype: 'FP32', parameters: { binary_data_size: tensor.length } }], parameters: { binary_data_output: true }, outputs: [{ name: 'logits', parameters: { binary_data: false } }] }, tensor);
    const plain = await send('POST', '/v2/models/tiny-gray/infer', mixed.body, { 'inference-header-content-length': String(mixed.headerLength) });
    assert.equal(plain.headers['content-type'], 'application/json');
    assert.equal(plain.headers['inference-header-content-length'], undefined);
    assert.deepEqual(json(plain).outputs[0].data, reference.outputs[0].data);
  });

  test('FP16 and UINT8 inputs give the FP32 probabilities within 1e-3; binary FP16 / UINT8 need half / a quarter of the bytes', async () => {
    const raw = [pixels(5), pixels(6)];
    const fp32 = raw.map(normalised);
    const reference = json(await send('POST', '/v2/models/tiny-gray/infer', Buffer.from(JSON.stringify(jsonInput(fp32))))).outputs[0].data as number[];
    const probs = (flat: ArrayLike<number>) => [0, 1].map((i) => softmax(Array.from(flat).slice(i * 10, (i + 1) * 10)));
    const close = (got: ArrayLike<number>, what: string) => {
      probs(got).forEach((row, i) => row.forEach((p, j) => assert.ok(Math.abs(p - probs(reference)[i]![j]!) < 1e-3, `${what}: image ${i} class ${j}: ${p}`)));
    };
    const flat32 = Float32Array.from(fp32.flatMap((x) => Array.from(x)));
    const bytes: Record<string, Buffer> = {
      FP32: le32(flat32),
      FP16: le16(flat32),
      UINT8: Buffer.concat(raw.map((p) => Buffer.from(p))),
    };
    assert.equal(bytes.FP16!.length * 2, bytes.FP32!.length);
    assert.equal(bytes.UINT8!.length * 4, bytes.FP32!.length);
    for (const [datatype, tensor] of Object.entries(bytes)) {
      const { body, headerLength } = framed({ inputs: [{ name: 'input', shape: [2, 1, 28, 28], datatype, parameters: { binary_data_size: tensor.length } }], parameters: { binary_data_output: true } }, tensor);
      const { tensors } = unframe(await send('POST', '/v2/models/tiny-gray/infer', body, { 'inference-header-content-length': String(headerLength) }));
      const out = new Float32Array(tensors[0]!.buffer.slice(tensors[0]!.byteOffset, tensors[0]!.byteOffset + tensors[0]!.length));
      close(out, `binary ${datatype}`);
    }
    // JSON UINT8 too: integers 0-255, and nothing else.
    const uint8 = await send('POST', '/v2/models/tiny-gray/infer', Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [2, 1, 28, 28], datatype: 'UINT8', data: raw.flatMap((p) => Array.from(p)) }] })));
    close(json(uint8).outputs[0].data, 'JSON UINT8');
    const over = raw.flatMap((p) => Array.from(p));
    over[5] = 256;
    expectError(await send('POST', '/v2/models/tiny-gray/infer', Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [2, 1, 28, 28], datatype: 'UINT8', data: over }] }))), 400, /integers 0-255/);
  });

  test('UINT8 on an NHWC RGB model normalises each channel with its own mean/std', async () => {
    const config = JSON.parse(await readFile(join(FIXTURE_REPOSITORY, 'tiny-rgb', 'config.json'), 'utf8'));
    const [c, h, w]: number[] = config.input.layout === 'NCHW' ? config.input.shape.slice(1) : [config.input.shape[3], config.input.shape[1], config.input.shape[2]];
    const count = c! * h! * w!;
    const p = Uint8Array.from({ length: count }, (_, i) => (i * 53) % 256);
    const plane = h! * w!;
    const channelOf = (i: number) => (config.input.layout === 'NCHW' ? Math.floor(i / plane) : i % c!);
    const f = Array.from(p, (v, i) => (v / 255 - config.preprocess.mean[channelOf(i)]!) / config.preprocess.std[channelOf(i)]!);
    const shape = [1, ...config.input.shape.slice(1)];
    const a = json(await send('POST', '/v2/models/tiny-rgb/infer', Buffer.from(JSON.stringify({ inputs: [{ name: config.input.name, shape, datatype: 'FP32', data: f }] }))));
    const b = json(await send('POST', '/v2/models/tiny-rgb/infer', Buffer.from(JSON.stringify({ inputs: [{ name: config.input.name, shape, datatype: 'UINT8', data: Array.from(p) }] }))));
    a.outputs[0].data.forEach((v: number, i: number) => assert.ok(Math.abs(v - b.outputs[0].data[i]) < 1e-4, `${v} vs ${b.outputs[0].data[i]}`));
  });

  test('versioned paths: the served version answers like the unversioned path; another version is a 404 {error}', async () => {
    const meta = json(await send('GET', '/v2/models/tiny-gray'));
    assert.deepEqual(json(await send('GET', '/v2/models/tiny-gray/versions/1')), meta);
    const ready = await send('GET', '/v2/models/tiny-gray/versions/1/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(json(ready), { name: 'tiny-gray', ready: true });
    const input = Buffer.from(JSON.stringify(jsonInput([normalised(pixels(7))])));
    const a = json(await send('POST', '/v2/models/tiny-gray/infer', input));
    const b = json(await send('POST', '/v2/models/tiny-gray/versions/1/infer', input));
    assert.deepEqual(b, a);
    assert.equal(b.model_version, '1');
    expectError(await send('GET', '/v2/models/tiny-gray/versions/2'), 404, /no version 2/);
    expectError(await send('GET', '/v2/models/tiny-gray/versions/2/ready'), 404, /no version 2/);
    expectError(await send('POST', '/v2/models/tiny-gray/versions/2/infer', input), 404, /no version 2/);
  });

  test('server metadata advertises the binary tensor data and model repository extensions', async () => {
    const meta = json(await send('GET', '/v2'));
    assert.ok(meta.extensions.includes('binary_tensor_data'));
    assert.ok(meta.extensions.includes('model_repository'));
  });

  test('/v1 keeps its own parsers: a JSON classify without Content-Type is still refused there', async () => {
    const raw = await send('POST', '/v1/models/tiny-gray/classify', Buffer.from('{"images": []}'));
    assert.equal(raw.status, 415);
    assert.match(String(raw.headers['content-type']), /^application\/problem\+json/);
  });
});
