import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { buildTestApp } from './helpers.ts';

/**
 * Hostile binary framing (the Open Inference Protocol's binary tensor data extension): every lie
 * about lengths is a 400 (or 413 past a limit) `{"error"}` that names it, never a 5xx, a hang or
 * an allocation sized by the claim; the server answers normally afterwards.
 */

const TENSOR = Buffer.alloc(784 * 4); // one FP32 image of zeros

function framed(header: unknown, tail: Buffer = TENSOR, headerLength?: string): { payload: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  return { payload: Buffer.concat([json, tail]), headers: { 'inference-header-content-length': headerLength ?? String(json.length) } };
}

const input = (parameters: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', parameters, ...extra }],
});

const cases: Array<[name: string, request: { payload: Buffer; headers: Record<string, string> }, status: number, pattern: RegExp]> = [
  ['header length beyond the body', framed(input({ binary_data_size: TENSOR.length }), TENSOR, String(1e9)), 400, /says the JSON header is 1000000000 bytes/],
  ['a 2 GB header length', framed(input({ binary_data_size: TENSOR.length }), TENSOR, '2147483648'), 400, /2147483648 bytes/],
  ['a negative header length', framed(input({ binary_data_size: TENSOR.length }), TENSOR, '-5'), 400, /non-negative integer for the Inference-Header-Content-Length/],
  ['a header length that is not a number', framed(input({ binary_data_size: TENSOR.length }), TENSOR, 'NaN'), 400, /Inference-Header-Content-Length/],
  ['a header length in exponent form', framed(input({ binary_data_size: TENSOR.length }), TENSOR, '1e3'), 400, /Inference-Header-Content-Length/],
  ['a header length that cuts the JSON', framed(input({ binary_data_size: TENSOR.length }), TENSOR, '20'), 400, /not valid JSON/],
  ['a header length of 0', framed(input({ binary_data_size: TENSOR.length }), TENSOR, '0'), 400, /empty body/],
  ['sizes adding up to less than the body', framed(input({ binary_data_size: TENSOR.length - 4 })), 400, /expected 3136 bytes|add up to 3132/],
  ['bytes left over after the declared tensors', framed(input({ binary_data_size: TENSOR.length }), Buffer.concat([TENSOR, Buffer.alloc(7)])), 400, /3143 bytes after the JSON header; the inputs' binary_data_size add up to 3136/],
  ['a size beyond the body (truncated tensor)', framed(input({ binary_data_size: TENSOR.length }), TENSOR.subarray(0, 1000)), 400, /claims 3136 bytes; only 1000 remain/],
  ['a 2 GB binary_data_size', framed(input({ binary_data_size: 2 ** 31 })), 400, /claims 2147483648 bytes/],
  ['a negative binary_data_size', framed(input({ binary_data_size: -4 })), 400, /non-negative integer for inputs\[0\]\.parameters\.binary_data_size, got -4/],
  ['a "NaN" binary_data_size', framed(input({ binary_data_size: 'NaN' })), 400, /binary_data_size, got "NaN"/],
  ['a null binary_data_size', framed(input({ binary_data_size: null })), 400, /binary_data_size, got null/],
  ['a fractional binary_data_size', framed(input({ binary_data_size: 3135.5 })), 400, /binary_data_size, got 3135.5/],
  ['a binary_data_size past 2^53', framed(input({ binary_data_size: 2 ** 60 })), 400, /binary_data_size/],
  ['sizes that match the body but not the shape', framed({ inputs: [{ name: 'input', shape: [2, 1, 28, 28], datatype: 'FP32', parameters: { binary_data_size: TENSOR.length } }] }), 400, /expected 6272 bytes for inputs\[0\] \(FP32 \[2, 1, 28, 28\]\), got 3136/],
  ['a shape claiming 2^26 images', framed({ inputs: [{ name: 'input', shape: [2 ** 26, 1, 28, 28], datatype: 'FP32', parameters: { binary_data_size: TENSOR.length } }] }), 413, /batch of 67108864/],
  ['both data and binary_data_size', framed(input({ binary_data_size: TENSOR.length }, { data: [1] })), 400, /both data and/],
  ['a binary tensor of NaN', framed(input({ binary_data_size: TENSOR.length }), Buffer.alloc(TENSOR.length, 0xff)), 400, /finite/],
  ['an FP16 size that is the FP32 size', framed({ inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP16', parameters: { binary_data_size: TENSOR.length } }] }), 400, /expected 1568 bytes/],
  ['binary bytes with no binary_data_size', framed({ inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Array(784).fill(0) }] }), 400, /add up to 0/],
  ['a non-boolean binary_data_output', framed({ ...input({ binary_data_size: TENSOR.length }), parameters: { binary_data_output: 'yes' } }), 400, /true or false for parameters\[binary_data_output\], got "yes"/],
  ['a non-boolean outputs[].binary_data', framed({ ...input({ binary_data_size: TENSOR.length }), outputs: [{ name: 'logits', parameters: { binary_data: 1 } }] }), 400, /true or false for outputs\[0\]\[parameters\]\[binary_data\], got 1/],
  ['a JSON header that is an array', framed('[1, 2, 3]'), 400, /expected a JSON object/],
  ['a JSON header that is not UTF-8 JSON', framed(Buffer.from([0xff, 0xfe, 0x00]).toString('latin1')), 400, /not valid JSON/],
];

describe('hostile binary framing on /v2/models/{name}/infer', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await buildTestApp({ MAX_IMAGES_PER_REQUEST: '8', MAX_QUEUE: '64', MAX_JSON_BYTES: String(64 * 1024) });
  });
  after(() => app.close());

  for (const [name, request, status, pattern] of cases) {
    test(`${name} → ${status} {error}`, async () => {
      const res = await app.inject({ method: 'POST', url: '/v2/models/tiny-gray/infer', ...request });
      assert.equal(res.statusCode, status, res.body);
      assert.equal(res.headers['content-type'], 'application/json');
      const body = res.json();
      assert.deepEqual(Object.keys(body), ['error']);
      assert.match(body.error, pattern);
    });
  }

  test('a body over MAX_JSON_BYTES is a 413 {error}, binary or not', async () => {
    const big = Buffer.alloc(65 * 1024);
    for (const headers of [{ 'inference-header-content-length': '10' }, {}]) {
      const res = await app.inject({ method: 'POST', url: '/v2/models/tiny-gray/infer', payload: big, headers });
      assert.equal(res.statusCode, 413, res.body);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.deepEqual(Object.keys(res.json()), ['error']);
    }
  });

  test('compressed bodies (Triton\'s request compression): gzip and deflate read; a bomb is 413, garbage 400, another encoding 415', async () => {
    const request = framed({ ...input({ binary_data_size: TENSOR.length }), parameters: { binary_data_output: true } });
    const plain = await app.inject({ method: 'POST', url: '/v2/models/tiny-gray/infer', ...request });
    for (const [encoding, pack] of [['gzip', gzipSync], ['deflate', deflateSync]] as const) {
      const res = await app.inject({ method: 'POST', url: '/v2/models/tiny-gray/infer', payload: pack(request.payload), headers: { ...request.headers, 'content-encoding': encoding } });
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(res.rawPayload.equals(plain.rawPayload), encoding);
    }
    const expect = async (payload: Buffer, encoding: string, status: number, pattern: RegExp) => {
      const res = await app.inject({ method: 'POST', url: '/v2/models/tiny-gray/infer', payload, headers: { 'content-encoding': encoding } });
      assert.equal(res.statusCode, status, res.body);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.match(res.json().error, pattern);
    };
    // 4 KiB of gzip that would inflate to 16 MiB: cut at the limit (64 KiB here).
    await expect(gzipSync(Buffer.alloc(16 * 1024 * 1024)), 'gzip', 413, /inflates beyond 65536 bytes/);
    await expect(Buffer.from('not gzip at all'), 'gzip', 400, /does not decompress as gzip/);
    await expect(Buffer.from('{}'), 'br', 415, /Content-Encoding gzip, deflate or identity, got "br"/);
  });

  test('after the corpus, a well-framed request answers as before', async () => {
    const res = await app.inject({ method: 'POST', url: '/v2/models/tiny-gray/infer', ...framed({ ...input({ binary_data_size: TENSOR.length }), parameters: { binary_data_output: true } }) });
    assert.equal(res.statusCode, 200, res.body);
    const length = Number(res.headers['inference-header-content-length']);
    const header = JSON.parse(res.rawPayload.subarray(0, length).toString());
    assert.equal(header.outputs[0].parameters.binary_data_size, 40);
    assert.equal(res.rawPayload.length, length + 40);
  });
});
