import assert from 'node:assert/strict';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { buildHostileCorpus, corpusEnv, validImage, type Expectation, type HostileEntry } from '../../scripts/make-hostile-corpus.ts';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { augmentEndpoints, inferenceExists, inject, judge, mib, settledMemory, toFormData, type Answer, type Endpoint } from './support.ts';

/** A bomb must be refused from its header: this is generous for inject's own overhead. */
const BOMB_BUDGET_MS = 100;

describe('hostile corpus against every augment upload endpoint (inject)', () => {
  let app: FastifyInstance;
  let corpus: HostileEntry[];
  let valid: Buffer;
  let endpoints: Endpoint[];
  const tried = { requests: 0, fiveHundreds: 0 };
  const bombTimes: Array<[string, number]> = [];

  /** Every entry that applies to the endpoint; returns one line per entry whose answer is wrong. */
  async function runCorpus(endpoint: Endpoint, timeBombs = false): Promise<string[]> {
    const failures: string[] = [];
    for (const entry of corpus) {
      const started = performance.now();
      let answer;
      try {
        answer = await inject(app, entry, endpoint, valid);
      } catch (error) {
        failures.push(`${entry.name}: ${(error as Error).message}`);
        continue;
      }
      if (!answer) continue;
      const elapsed = performance.now() - started;
      tried.requests++;
      if (answer.statusCode >= 500) tried.fiveHundreds++;
      const problem = await judge(answer, entry.expect, 'AUG', entry.kind === 'image' ? endpoint.output : undefined);
      if (problem) failures.push(`${entry.name}: ${problem}`);
      if (timeBombs && entry.bomb) bombTimes.push([`${endpoint.label}: ${entry.name}`, elapsed]);
    }
    return failures;
  }

  before(async () => {
    corpus = await buildHostileCorpus();
    valid = await validImage();
    endpoints = augmentEndpoints(valid);
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', ...corpusEnv() }));
  });
  after(() => app.close());

  test('the corpus holds at least 40 entries of each kind of trouble', () => {
    assert.ok(corpus.length >= 40, `${corpus.length} entries`);
    for (const kind of ['image', 'form', 'body', 'params']) assert.ok(corpus.some((e) => e.kind === kind), kind);
    assert.ok(corpus.filter((e) => e.bomb).length >= 6);
  });

  describe('every entry gets its documented answer', () => {
    for (const label of ['flip', 'rotate', 'crop', 'scale', 'cutout', 'cutmix', 'pipeline', 'cutmix (mix_image)']) {
      test(label, async () => {
        const endpoint = endpoints.find((e) => e.label === label)!;
        assert.deepEqual(await runCorpus(endpoint, true), []);
      });
    }
  });

  test('bombs are refused from their header in under 100 ms', (t) => {
    assert.ok(bombTimes.length > 0);
    const slowest = bombTimes.reduce((a, b) => (b[1] > a[1] ? b : a));
    t.diagnostic(`${bombTimes.length} bomb requests, slowest ${slowest[1].toFixed(1)} ms (${slowest[0]})`);
    // Each bomb's median over the endpoints is held to the budget; a single request may be
    // descheduled on a busy two-core machine, so it gets a looser ceiling.
    const byBomb = new Map<string, number[]>();
    for (const [name, ms] of bombTimes) {
      const bomb = name.slice(name.indexOf(': ') + 2);
      byBomb.set(bomb, [...(byBomb.get(bomb) ?? []), ms]);
    }
    for (const [name, times] of byBomb) {
      const sorted = times.sort((a, b) => a - b);
      const median = sorted[sorted.length >> 1]!;
      assert.ok(median < BOMB_BUDGET_MS, `${name}: median ${median.toFixed(1)} ms`);
    }
    for (const [name, ms] of bombTimes) assert.ok(ms < BOMB_BUDGET_MS * 2.5, `${name}: ${ms.toFixed(1)} ms`);
  });

  test('no 5xx over the whole corpus', (t) => {
    t.diagnostic(`${tried.requests} requests, ${tried.fiveHundreds} answered 5xx`);
    assert.equal(tried.fiveHundreds, 0);
  });

  test('memory after another pass is back within 10% of what it was before it', async (t) => {
    // The pass above was the warm-up: every decoder, encoder and operation has run, libvips and
    // the allocator hold their working set. Another pass (the heaviest endpoints) must not add to it.
    // RSS is the process as the OS sees it (V8 heap, Buffers, libvips and glibc arenas);
    // heapUsed + external is what the JavaScript side still holds.
    const warm = await settledMemory();
    for (const label of ['flip', 'pipeline']) await runCorpus(endpoints.find((e) => e.label === label)!);
    const end = await settledMemory();
    t.diagnostic(`RSS ${mib(warm.rss)} → ${mib(end.rss)}; heapUsed+external ${mib(warm.heapUsed + warm.external)} → ${mib(end.heapUsed + end.external)}`);
    assert.ok(end.rss <= warm.rss * 1.1, `RSS grew from ${mib(warm.rss)} to ${mib(end.rss)}`);
    assert.ok(end.heapUsed + end.external <= (warm.heapUsed + warm.external) * 1.1 + 4 * 1048576, 'heap + external grew');
  });
});

/**
 * The same images and bodies against inference's classify endpoints, as multipart uploads and
 * as JSON `{"images": [base64]}`; a 200 is a classification. The request-shape entries written
 * for augment's one-image forms do not apply (classify takes several images), so inference gets
 * its own few below.
 */
describe('hostile corpus against inference classify endpoints', { skip: inferenceExists() ? false : 'services/inference/app.ts does not exist yet' }, () => {
  let app: FastifyInstance;
  let corpus: HostileEntry[];
  let valid: Buffer;
  const tried = { requests: 0, fiveHundreds: 0 };
  // One model (multipart and JSON) and the ensemble (two grey models, soft voting; multipart).
  const urls = ['/v1/models/tiny-rgb/classify', '/v1/ensembles/default/classify'];

  before(async () => {
    corpus = await buildHostileCorpus();
    valid = await validImage();
    const { buildInferenceApp } = await import('../../services/inference/app.ts');
    const { readInferenceConfig } = await import('../../services/inference/config.ts');
    const repository = new URL('../fixtures/models/', import.meta.url).pathname;
    app = await buildInferenceApp(
      readInferenceConfig({ LOG_LEVEL: 'silent', MODEL_REPOSITORY: repository, EXECUTION_PROVIDERS: 'cpu', INFERENCE_WORKERS: '1', ...corpusEnv() }),
    );
  });
  after(() => app?.close());

  async function judgeInference(res: { statusCode: number; headers: Record<string, unknown>; body: string }, expect: Expectation): Promise<string | undefined> {
    tried.requests++;
    if (res.statusCode >= 500) {
      tried.fiveHundreds++;
      return `got a ${res.statusCode}: ${res.body.slice(0, 200)}`;
    }
    if (expect.status === 200) {
      if (res.statusCode !== 200) return `expected 200, got ${res.statusCode}: ${res.body.slice(0, 200)}`;
      const body = JSON.parse(res.body) as Record<string, unknown>;
      return typeof body === 'object' && body !== null ? undefined : `not a classification: ${res.body.slice(0, 200)}`;
    }
    const answer = { statusCode: res.statusCode, headers: res.headers as Answer['headers'], rawPayload: Buffer.from(res.body) };
    return judge(answer, expect, 'INF');
  }

  for (const url of urls) {
    const viaJson = url === urls[0];
    test(`${url}: every image as a multipart upload${viaJson ? ' and as base64 JSON' : ''}`, async () => {
      const failures: string[] = [];
      for (const entry of corpus) {
        if (entry.kind !== 'image') continue;
        const multipart = await app.inject({ method: 'POST', url, body: toFormData([{ name: 'image', value: entry.bytes, filename: 'x.bin' }]) });
        const problem = await judgeInference(multipart, entry.expect);
        if (problem) failures.push(`${entry.name} (multipart): ${problem}`);
        if (!viaJson) continue;
        // An empty image in JSON is an empty string, which the schema refuses (minLength).
        const json = await app.inject({ method: 'POST', url, payload: { images: [entry.bytes.toString('base64')] } });
        const jsonExpect: Expectation = entry.bytes.length === 0 ? { status: 400, code: 'INVALID_PARAM' } : entry.expect;
        const jsonProblem = await judgeInference(json, jsonExpect);
        if (jsonProblem) failures.push(`${entry.name} (JSON): ${jsonProblem}`);
      }
      assert.deepEqual(failures, []);
    });
  }

  test('bodies that are not usable forms', async () => {
    // Inference also takes JSON, so a JSON body is read (and its unknown field refused).
    const overrides: Record<string, Expectation> = { 'JSON body to a multipart endpoint': { status: 400, code: 'INVALID_REQUEST' } };
    const failures: string[] = [];
    for (const entry of corpus) {
      if (entry.kind !== 'body') continue;
      const res = await app.inject({ method: 'POST', url: urls[0]!, headers: entry.contentType ? { 'content-type': entry.contentType } : {}, body: entry.body });
      const problem = await judgeInference(res, overrides[entry.name] ?? entry.expect);
      if (problem) failures.push(`${entry.name}: ${problem}`);
    }
    assert.deepEqual(failures, []);
  });

  test('classify request shapes: several images, wrong fields, JSON oddities', async () => {
    const b64 = valid.toString('base64');
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const cases: Array<[string, () => Promise<{ statusCode: number; headers: Record<string, unknown>; body: string }>, Expectation]> = [
      ['two images (multipart)', () => app.inject({ method: 'POST', url: urls[0]!, body: toFormData([{ name: 'image', value: valid, filename: 'a' }, { name: 'image', value: valid, filename: 'b' }]) }), { status: 200, width: 0, height: 0, format: 'png' }],
      ['wrong file field', () => app.inject({ method: 'POST', url: urls[0]!, body: toFormData([{ name: 'picture', value: valid, filename: 'a' }]) }), { status: 400, code: 'INVALID_REQUEST' }],
      ['no file', () => app.inject({ method: 'POST', url: urls[0]!, body: toFormData([{ name: 'top_k', value: '3' }]) }), { status: 400, code: 'INVALID_REQUEST' }],
      ['top_k NaN', () => app.inject({ method: 'POST', url: urls[0]!, body: toFormData([{ name: 'image', value: valid, filename: 'a' }, { name: 'top_k', value: 'NaN' }]) }), { status: 400, code: 'INVALID_PARAM' }],
      ['top_k -1', () => app.inject({ method: 'POST', url: urls[0]!, payload: { images: [b64], top_k: -1 } }), { status: 400, code: 'INVALID_PARAM' }],
      ['one image too many', () => app.inject({ method: 'POST', url: urls[0]!, payload: { images: Array.from({ length: 65 }, () => b64) } }), { status: 413, code: 'PAYLOAD_TOO_LARGE' }],
      ['images empty', () => app.inject({ method: 'POST', url: urls[0]!, payload: { images: [] } }), { status: 400, code: 'INVALID_PARAM' }],
      ['images not a list', () => app.inject({ method: 'POST', url: urls[0]!, payload: { images: b64 } }), { status: 400, code: 'INVALID_PARAM' }],
      ['image a number', () => app.inject({ method: 'POST', url: urls[0]!, payload: { images: [123] } }), { status: 400, code: 'INVALID_PARAM' }],
      ['image not base64', () => app.inject({ method: 'POST', url: urls[0]!, payload: { images: ['%%%not base64%%%'] } }), { status: 400, code: 'INVALID_REQUEST' }],
      ['image as a data: URL', () => app.inject({ method: 'POST', url: urls[0]!, payload: { images: [`data:image/png;base64,${b64}`] } }), { status: 200, width: 0, height: 0, format: 'png' }],
      ['JSON array body', () => app.inject({ method: 'POST', url: urls[0]!, headers: { 'content-type': 'application/json' }, body: '[1,2,3]' }), { status: 400, code: 'INVALID_REQUEST' }],
      ['JSON nested 20000 deep', () => app.inject({ method: 'POST', url: urls[0]!, headers: { 'content-type': 'application/json' }, body: `{"images":${deep}}` }), { status: 400, code: 'INVALID_PARAM' }],
      ['JSON __proto__ key', () => app.inject({ method: 'POST', url: urls[0]!, headers: { 'content-type': 'application/json' }, body: `{"images":["${b64}"],"__proto__":{"top_k":1}}` }), { status: 400, code: 'INVALID_REQUEST' }],
      ['JSON truncated', () => app.inject({ method: 'POST', url: urls[0]!, headers: { 'content-type': 'application/json' }, body: `{"images":["${b64.slice(0, 20)}` }), { status: 400, code: 'INVALID_REQUEST' }],
      ['unknown model', () => app.inject({ method: 'POST', url: '/v1/models/nope/classify', payload: { images: [b64] } }), { status: 400, code: 'INVALID_REQUEST' }],
    ];
    const failures: string[] = [];
    for (const [name, send, expect] of cases) {
      const res = await send();
      if (name === 'unknown model') {
        if (res.statusCode !== 404 || !res.body.includes('INF_MODEL_NOT_FOUND')) failures.push(`${name}: ${res.statusCode} ${res.body.slice(0, 200)}`);
        continue;
      }
      const problem = await judgeInference(res, expect);
      if (problem) failures.push(`${name}: ${problem}`);
    }
    assert.deepEqual(failures, []);
  });

  test('no 5xx over the inference corpus', (t) => {
    t.diagnostic(`${tried.requests} requests, ${tried.fiveHundreds} answered 5xx`);
    assert.equal(tried.fiveHundreds, 0);
  });
});

/** A raw HTTP exchange: what came back and when the server closed (or the deadline passed). */
async function rawExchange(
  port: number,
  script: (socket: Socket) => Promise<void> | void,
  deadlineMs: number,
): Promise<{ response: string; status?: number; closedAfterMs?: number }> {
  const socket = connect(port, '127.0.0.1');
  const started = performance.now();
  let response = '';
  socket.on('data', (data) => (response += data.toString('latin1')));
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(performance.now() - started)));
  await new Promise((resolve) => socket.once('connect', resolve));
  void script(socket);
  const closedAfterMs = await Promise.race([closed, new Promise<undefined>((resolve) => setTimeout(resolve, deadlineMs))]);
  socket.destroy();
  const status = /^HTTP\/1\.1 (\d{3})/.exec(response)?.[1];
  return { response, ...(status ? { status: Number(status) } : {}), ...(closedAfterMs !== undefined ? { closedAfterMs } : {}) };
}

/** The content type, code and status of a raw HTTP answer with a problem+json body. */
function rawProblem(response: string): { contentType?: string; code?: string; status?: number } {
  const [head = '', body = ''] = response.split('\r\n\r\n');
  const contentType = /^content-type: *([^\r;]+)/im.exec(head)?.[1];
  const problem = JSON.parse(body) as { code?: string; status?: number };
  return { contentType, code: problem.code, status: problem.status };
}

describe('cut-off and slow uploads through a listening augment server (raw sockets)', () => {
  const REQUEST_TIMEOUT_MS = 1500;
  const MAX_CONCURRENT = 3;
  let app: FastifyInstance;
  let port: number;
  let body: Buffer;
  const boundary = '----hostile';
  const head = (length: number, extra = '') =>
    `POST /v1/augment/flip HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\n${extra}Content-Length: ${length}\r\n\r\n`;

  before(async () => {
    app = await buildAugmentApp(
      readAugmentConfig({ LOG_LEVEL: 'silent', REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), MAX_CONCURRENT_REQUESTS: String(MAX_CONCURRENT) }),
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
    const image = await validImage();
    body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`),
      image,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
  });
  after(() => app.close());

  /** All slots free again: as many concurrent requests as the bound all get a 200. */
  async function servesNormally() {
    const image = await validImage();
    const answers = await Promise.all(
      Array.from({ length: MAX_CONCURRENT }, () => {
        const form = new FormData();
        form.append('image', new Blob([new Uint8Array(image)]), 'a.png');
        return fetch(`http://127.0.0.1:${port}/v1/augment/flip`, { method: 'POST', body: form, signal: AbortSignal.timeout(5000) });
      }),
    );
    assert.deepEqual(answers.map((a) => a.status), answers.map(() => 200));
  }

  test('bodies cut off mid-stream (client gone) leave no slot taken and no 5xx', async () => {
    const results = await Promise.all(
      Array.from({ length: MAX_CONCURRENT * 3 }, (_, i) =>
        rawExchange(port, async (socket) => {
          socket.write(head(body.length));
          socket.write(body.subarray(0, 40 + i * 37));
          await new Promise((resolve) => setTimeout(resolve, 50));
          socket.destroy();
        }, 3000),
      ),
    );
    // Beyond the bound a request is refused at once (503 AUG_OVERLOADED) before its body is read.
    for (const result of results) {
      assert.ok(result.status === undefined || result.status < 500 || /AUG_OVERLOADED/.test(result.response), result.response);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    await servesNormally();
  });

  test('a client that hangs up after uploading keeps its slot until its image is processed', async () => {
    const big = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#456' } }).png({ compressionLevel: 1 }).toBuffer();
    const heavy = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="angle"\r\n\r\n10\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`),
      big,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    // Uploaded whole, then abandoned while the 12 MP rotation runs.
    await Promise.all(
      Array.from({ length: MAX_CONCURRENT }, () =>
        rawExchange(port, async (socket) => {
          socket.write(head(heavy.length).replace('/v1/augment/flip', '/v1/augment/rotate'));
          socket.write(heavy);
          await new Promise((resolve) => setTimeout(resolve, 400));
          socket.destroy();
        }, 2000),
      ),
    );
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(await validImage())]), 'a.png');
    const meanwhile = await fetch(`http://127.0.0.1:${port}/v1/augment/flip`, { method: 'POST', body: form, signal: AbortSignal.timeout(5000) });
    assert.equal(meanwhile.status, 503, 'the abandoned work no longer counted against MAX_CONCURRENT_REQUESTS');
    // Once the work is done the slots are free again.
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await servesNormally();
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  });

  test('a body that ends early (half-close) gets a 400, not a hang', async () => {
    const result = await rawExchange(port, (socket) => {
      socket.write(head(body.length));
      socket.end(body.subarray(0, body.length >> 1));
    }, REQUEST_TIMEOUT_MS * 3);
    assert.ok(result.closedAfterMs !== undefined, 'connection still open');
    assert.ok(result.status === undefined || (result.status >= 400 && result.status < 500), result.response);
  });

  test('a chunked body cut off after one chunk gets a 4xx or a close, never a 5xx', async () => {
    const result = await rawExchange(port, (socket) => {
      socket.write(head(0, 'Transfer-Encoding: chunked\r\n').replace('Content-Length: 0\r\n', ''));
      socket.end(`${(100).toString(16)}\r\n${body.subarray(0, 100).toString('latin1')}\r\n`);
    }, REQUEST_TIMEOUT_MS * 3);
    assert.ok(result.closedAfterMs !== undefined, 'connection still open');
    assert.ok(result.status === undefined || (result.status >= 400 && result.status < 500), result.response);
  });

  test('malformed HTTP gets a 400 problem+json from the parser, and the connection is closed', async () => {
    const result = await rawExchange(port, (socket) => {
      socket.write('POST /v1/augment/flip HTTP/1.1\r\nContent-Length: abc\r\n\r\n');
    }, 3000);
    assert.equal(result.status, 400);
    assert.ok(result.closedAfterMs !== undefined, 'connection still open');
    assert.deepEqual(rawProblem(result.response), { contentType: 'application/problem+json', code: 'AUG_INVALID_REQUEST', status: 400 });
  });

  test('headers over the parser limit get a 431 problem+json', async () => {
    const result = await rawExchange(port, (socket) => {
      socket.write(`GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    }, 3000);
    assert.equal(result.status, 431);
    assert.deepEqual(rawProblem(result.response), { contentType: 'application/problem+json', code: 'AUG_INVALID_REQUEST', status: 431 });
  });

  test('slow-loris uploads are cut at REQUEST_TIMEOUT_MS (408) while others are served', async (t) => {
    const loris = Array.from({ length: MAX_CONCURRENT - 1 }, () =>
      rawExchange(port, (socket) => {
        socket.write(head(body.length));
        let sent = 0;
        const drip = setInterval(() => {
          if (socket.destroyed || sent >= body.length) return clearInterval(drip);
          socket.write(body.subarray(sent, ++sent));
        }, 50);
        socket.on('close', () => clearInterval(drip));
      }, REQUEST_TIMEOUT_MS * 4),
    );
    const headers = rawExchange(port, (socket) => {
      const text = 'POST /v1/augment/flip HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ';
      let sent = 0;
      const drip = setInterval(() => {
        if (socket.destroyed) return clearInterval(drip);
        socket.write(sent < text.length ? text[sent++]! : 'a');
      }, 50);
      socket.on('close', () => clearInterval(drip));
    }, REQUEST_TIMEOUT_MS * 4);
    // The slow ones hold two of the three slots; the third still serves.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(await validImage())]), 'a.png');
    const during = await fetch(`http://127.0.0.1:${port}/v1/augment/flip`, { method: 'POST', body: form, signal: AbortSignal.timeout(5000) });
    assert.equal(during.status, 200);
    for (const result of [...(await Promise.all(loris)), await headers]) {
      assert.ok(result.closedAfterMs !== undefined, 'slow connection still open');
      t.diagnostic(`slow connection closed after ${result.closedAfterMs.toFixed(0)} ms with ${result.status ?? 'no answer'}`);
      assert.ok(result.closedAfterMs < REQUEST_TIMEOUT_MS * 2 + 500, `closed after ${result.closedAfterMs} ms`);
      assert.ok(result.status === undefined || result.status === 408, result.response);
      if (result.status === 408) assert.equal(rawProblem(result.response).code, 'AUG_REQUEST_TIMEOUT');
    }
    await servesNormally();
  });
});

describe('slow uploads through a listening inference server', { skip: inferenceExists() ? false : 'services/inference/app.ts does not exist yet' }, () => {
  test('a slow-loris upload is cut at REQUEST_TIMEOUT_MS (408)', async () => {
    const { buildInferenceApp } = await import('../../services/inference/app.ts');
    const { readInferenceConfig } = await import('../../services/inference/config.ts');
    const repository = new URL('../fixtures/models/', import.meta.url).pathname;
    const app = await buildInferenceApp(
      readInferenceConfig({ LOG_LEVEL: 'silent', MODEL_REPOSITORY: repository, EXECUTION_PROVIDERS: 'cpu', INFERENCE_WORKERS: '1', REQUEST_TIMEOUT_MS: '1000' }),
    );
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const port = (app.server.address() as AddressInfo).port;
      const result = await rawExchange(port, (socket) => {
        socket.write('POST /v1/models/tiny-rgb/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n');
        const drip = setInterval(() => (socket.destroyed ? clearInterval(drip) : socket.write(' ')), 50);
        socket.on('close', () => clearInterval(drip));
      }, 4000);
      assert.ok(result.closedAfterMs !== undefined && result.closedAfterMs < 3000, 'slow upload still open after 4 s');
      assert.equal(result.status, 408);
      assert.deepEqual(rawProblem(result.response), { contentType: 'application/problem+json', code: 'INF_REQUEST_TIMEOUT', status: 408 });
    } finally {
      await app.close();
    }
  });
});
