import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { componentSchema } from '../../services/shared/openapi.ts';
import { clientErrorHandler } from '../../services/shared/problem.ts';
import { form } from '../helpers/form.ts';
import { makeImage } from '../helpers/images.ts';

/** Every code a test below saw; checked against the spec's list at the end. */
const seen = new Set<string>();

function expectProblem(res: { statusCode: number; headers: Record<string, unknown>; json(): any; body: string }, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = res.json();
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  assert.equal(typeof body.detail, 'string');
  seen.add(code);
}

describe('augment errors are problem+json with stable codes', () => {
  let app: FastifyInstance;
  let photo: Buffer;

  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', MAX_INPUT_PIXELS: '100000', MAX_OUTPUT_PIXELS: '100000', MAX_FILE_BYTES: '300000' }));
    photo = await makeImage(64, 48);
  });
  after(() => app.close());

  const post = (op: string, fields: Parameters<typeof form>[0]) => app.inject({ method: 'POST', url: `/v1/augment/${op}`, body: form(fields) });

  const cases: Array<[string, string, () => Parameters<typeof form>[0], number, string]> = [
    ['missing image', 'flip', () => ({ direction: 'vertical' }), 400, 'AUG_INVALID_REQUEST'],
    ['empty image', 'flip', () => ({ image: Buffer.alloc(0) }), 400, 'AUG_INVALID_REQUEST'],
    ['two images', 'flip', () => ({ image: [photo, photo] }), 400, 'AUG_INVALID_REQUEST'],
    ['wrong file field', 'flip', () => ({ picture: photo }), 400, 'AUG_INVALID_REQUEST'],
    ['unknown field', 'rotate', () => ({ image: photo, angel: 3 }), 400, 'AUG_INVALID_REQUEST'],
    ['non-numeric angle', 'rotate', () => ({ image: photo, angle: 'ten' }), 400, 'AUG_INVALID_PARAM'],
    ['NaN', 'rotate', () => ({ image: photo, angle: 'NaN' }), 400, 'AUG_INVALID_PARAM'],
    ['Infinity', 'scale', () => ({ image: photo, factor: 'Infinity' }), 400, 'AUG_INVALID_PARAM'],
    ['negative size', 'cutout', () => ({ image: photo, size: -4 }), 400, 'AUG_INVALID_PARAM'],
    ['a million holes', 'cutout', () => ({ image: photo, holes: 1000000 }), 400, 'AUG_INVALID_PARAM'],
    ['seed out of range', 'flip', () => ({ image: photo, seed: 2 ** 32 }), 400, 'AUG_INVALID_PARAM'],
    ['bad colour', 'rotate', () => ({ image: photo, fill: 'chartreuse' }), 400, 'AUG_INVALID_PARAM'],
    ['bad format', 'flip', () => ({ image: photo, format: 'bmp' }), 400, 'AUG_INVALID_PARAM'],
    ['range min > max', 'rotate', () => ({ image: photo, angle_range: '10,-10' }), 400, 'AUG_INVALID_RANGE'],
    ['three-number range', 'scale', () => ({ image: photo, factor_range: '1,2,3' }), 400, 'AUG_INVALID_PARAM'],
    ['output over the pixel limit', 'scale', () => ({ image: photo, factor: 8, keep_size: 'false' }), 400, 'AUG_INVALID_PARAM'],
    ['unknown op in a pipeline', 'pipeline', () => ({ image: photo, ops: '[{"op":"blur"}]' }), 400, 'AUG_UNKNOWN_OP'],
    ['bad step field', 'pipeline', () => ({ image: photo, ops: '[{"op":"flip","angle":3}]' }), 400, 'AUG_INVALID_REQUEST'],
    ['ops not JSON', 'pipeline', () => ({ image: photo, ops: '[{op:flip' }), 400, 'AUG_INVALID_PARAM'],
    ['count 33', 'pipeline', () => ({ image: photo, ops: '[{"op":"flip"}]', count: 33 }), 400, 'AUG_INVALID_PARAM'],
    ['random bytes', 'flip', () => ({ image: Buffer.from('not an image at all, just text') }), 415, 'AUG_UNSUPPORTED_MEDIA'],
    ['crop larger than the image', 'crop', () => ({ image: photo, width: 65, height: 10 }), 422, 'AUG_IMPOSSIBLE_PARAM'],
    ['replayed box outside the image', 'cutmix', () => ({ image: photo, mix_image: photo, box: '0,0,80,10' }), 422, 'AUG_IMPOSSIBLE_PARAM'],
  ];
  for (const [name, op, fields, status, code] of cases) {
    test(`${name} → ${status} ${code}`, async () => expectProblem(await post(op, fields()), status, code));
  }

  test('truncated PNG and JPEG → 415', async () => {
    for (const format of ['png', 'jpeg'] as const) {
      const whole = await makeImage(64, 48, format);
      expectProblem(await post('flip', { image: whole.subarray(0, Math.floor(whole.length / 2)) }), 415, 'AUG_UNSUPPORTED_MEDIA');
    }
  });

  test('SVG is refused even though sharp could render it', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    expectProblem(await post('flip', { image: svg }), 415, 'AUG_UNSUPPORTED_MEDIA');
  });

  test('a body neither multipart nor a raw image type → 415', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/augment/flip', headers: { 'content-type': 'application/octet-stream' }, body: photo });
    expectProblem(res, 415, 'AUG_UNSUPPORTED_MEDIA');
  });

  test('an image over the pixel limit is refused from its header → 413', async () => {
    const big = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#888' } }).png().toBuffer();
    expectProblem(await post('flip', { image: big }), 413, 'AUG_PAYLOAD_TOO_LARGE');
  });

  test('a file over the byte limit → 413', async () => {
    expectProblem(await post('flip', { image: Buffer.alloc(400_000, 1) }), 413, 'AUG_PAYLOAD_TOO_LARGE');
  });

  test('unknown route → 404', async () => {
    expectProblem(await app.inject({ method: 'POST', url: '/v1/augment/blur' }), 404, 'AUG_ROUTE_NOT_FOUND');
  });

  test('an unexpected failure is a 500 AUG_INTERNAL without internals in the body', async () => {
    // A throwaway app with one failing route, same error handling as the service.
    const Fastify = (await import('fastify')).default;
    const problem = (await import('../../services/shared/problem.ts')).default;
    const bare = Fastify({ logger: false });
    await bare.register(problem, { prefix: 'AUG' });
    bare.get('/boom', async () => {
      throw new Error('secret internals');
    });
    const res = await bare.inject('/boom');
    expectProblem(res, 500, 'AUG_INTERNAL');
    assert.doesNotMatch(res.body, /secret/);
    await bare.close();
  });

  describe('access', () => {
    let guarded: FastifyInstance;
    before(async () => {
      guarded = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', API_KEYS: 'k1,k2', RATE_LIMIT_PER_MINUTE: '2' }));
    });
    after(() => guarded.close());

    test('API keys guard the operations but not health; a valid key passes', async () => {
      expectProblem(await guarded.inject({ method: 'POST', url: '/v1/augment/flip', body: form({ image: photo }) }), 401, 'AUG_UNAUTHORIZED');
      expectProblem(await guarded.inject({ method: 'POST', url: '/v1/augment/flip', headers: { 'x-api-key': 'k3' }, body: form({ image: photo }) }), 401, 'AUG_UNAUTHORIZED');
      assert.equal((await guarded.inject('/health/live')).statusCode, 200);
      const ok = await guarded.inject({ method: 'POST', url: '/v1/augment/flip', headers: { authorization: 'Bearer k2' }, body: form({ image: photo }) });
      assert.equal(ok.statusCode, 200);
    });

    test('rate limit per key → 429', async () => {
      const send = () => guarded.inject({ method: 'POST', url: '/v1/augment/flip', headers: { 'x-api-key': 'k1' }, body: form({ image: photo }) });
      await send();
      await send();
      expectProblem(await send(), 429, 'AUG_RATE_LIMITED');
    });
  });

  test('requests beyond the concurrency bound → 503 with Retry-After', async () => {
    const tight = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', MAX_CONCURRENT_REQUESTS: '1' }));
    const large = await makeImage(900, 700);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => tight.inject({ method: 'POST', url: '/v1/augment/rotate', body: form({ image: large, angle: 10 }) })),
    );
    const refused = results.filter((res) => res.statusCode === 503);
    assert.ok(refused.length > 0, 'expected some 503s');
    assert.ok(results.some((res) => res.statusCode === 200));
    for (const res of refused) {
      expectProblem(res, 503, 'AUG_OVERLOADED');
      assert.equal(res.headers['retry-after'], '1');
    }
    await tight.close();
  });

  test("refusals of Node's HTTP parser and request timeout are problem+json too", () => {
    // The handler Fastify calls on a client error; test/hardening sends these over real sockets.
    for (const [error, status, code] of [
      [Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), 408, 'AUG_REQUEST_TIMEOUT'],
      [Object.assign(new Error('bad'), { code: 'HPE_INVALID_CONTENT_LENGTH' }), 400, 'AUG_INVALID_REQUEST'],
      [Object.assign(new Error('big'), { code: 'HPE_HEADER_OVERFLOW' }), 431, 'AUG_INVALID_REQUEST'],
    ] as const) {
      let written = '';
      let destroyed = false;
      const socket = { destroyed: false, writable: true, write: (text: string) => (written += text), destroy: () => (destroyed = true) };
      clientErrorHandler('AUG')(error, socket as never);
      const [head = '', body = ''] = written.split('\r\n\r\n');
      assert.match(head, new RegExp(`^HTTP/1.1 ${status} `));
      assert.match(head, /content-type: application\/problem\+json/i);
      assert.equal(Number(/content-length: (\d+)/i.exec(head)?.[1]), Buffer.byteLength(body));
      expectProblem({ statusCode: status, headers: { 'content-type': 'application/problem+json' }, json: () => JSON.parse(body), body }, status, code);
      assert.ok(destroyed, 'socket closed');
    }
  });

  test('every code seen here is documented, and every documented AUG code is seen', () => {
    const documented = (componentSchema('Problem').properties!.code!.enum as string[]).filter((code) => code.startsWith('AUG_'));
    for (const code of seen) assert.ok(documented.includes(code), `${code} is not documented in openapi.yaml`);
    assert.deepEqual(documented.filter((code) => !seen.has(code)), []);
    // Codes constructed in the service's source must be documented as well.
    const source = readFileSync(new URL('../../services/augment/errors.ts', import.meta.url), 'utf8');
    for (const [, code] of source.matchAll(/'(AUG_[A-Z_]+)'/g)) assert.ok(documented.includes(code!), `${code} missing from openapi.yaml`);
  });
});
