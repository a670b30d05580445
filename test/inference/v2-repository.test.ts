import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildTestApp, copyRepository } from './helpers.ts';

const KEY = 'operator-key-2';
const auth = { 'x-api-key': KEY };

/** The model repository extension of the Open Inference Protocol (Triton's): index, load, unload. */
describe('V2 model repository extension', () => {
  let app: FastifyInstance;
  let repo: Awaited<ReturnType<typeof copyRepository>>;

  const post = (url: string, body?: unknown, headers: Record<string, string> = auth) =>
    app.inject({ method: 'POST', url, headers, ...(body === undefined ? {} : { payload: Buffer.from(JSON.stringify(body)) }) });
  const infer = () => app.inject({
    method: 'POST',
    url: '/v2/models/tiny-gray/infer',
    headers: auth,
    payload: Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'UINT8', data: new Array(784).fill(128) }] })),
  });
  const expectError = (res: { statusCode: number; headers: Record<string, unknown>; json(): any; body: string }, status: number, pattern: RegExp) => {
    assert.equal(res.statusCode, status, res.body);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.deepEqual(Object.keys(res.json()), ['error']);
    assert.match(res.json().error, pattern);
  };

  before(async () => {
    repo = await copyRepository();
    app = await buildTestApp({ MODEL_REPOSITORY: repo.root, API_KEYS: KEY });
  });
  after(async () => {
    await app.close();
    await repo.cleanup();
  });

  test('every repository endpoint needs the key; the refusal is {error} under application/json', async () => {
    expectError(await post('/v2/repository/index', undefined, {}), 401, /API key/);
    expectError(await post('/v2/repository/models/tiny-gray/unload', undefined, { 'x-api-key': 'wrong' }), 401, /API key/);
    expectError(await post('/v2/repository/models/tiny-gray/load', undefined, {}), 401, /API key/);
    assert.equal((await infer()).statusCode, 200, 'nothing was unloaded');
  });

  test('the index lists every model with version and state, and folders not loaded yet', async () => {
    const config = JSON.parse(await readFile(join(repo.root, 'tiny-gray', 'config.json'), 'utf8'));
    await cp(join(repo.root, 'tiny-gray'), join(repo.root, 'tiny-late'), { recursive: true });
    await writeFile(join(repo.root, 'tiny-late', 'config.json'), JSON.stringify({ ...config, name: 'tiny-late' }));
    const res = await post('/v2/repository/index');
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), [
      { name: 'tiny-gray', version: '1', state: 'READY' },
      { name: 'tiny-gray-nhwc', version: '1', state: 'READY' },
      { name: 'tiny-late', state: 'UNAVAILABLE', reason: 'not loaded' },
      { name: 'tiny-rgb', version: '1', state: 'READY' },
    ]);
    const ready = await post('/v2/repository/index', { ready: true });
    assert.deepEqual(ready.json().map((m: { name: string }) => m.name), ['tiny-gray', 'tiny-gray-nhwc', 'tiny-rgb']);
    expectError(await post('/v2/repository/index', { ready: 'yes' }), 400, /true or false for ready/);
    // A folder added after start loads through the extension.
    assert.deepEqual((await post('/v2/repository/models/tiny-late/load')).json(), {});
    assert.deepEqual((await post('/v2/repository/index')).json().find((m: { name: string }) => m.name === 'tiny-late'), { name: 'tiny-late', version: '1', state: 'READY' });
  });

  test('load with a config override while requests flow: every request answered, the new version served after', async () => {
    const config = JSON.parse(await readFile(join(repo.root, 'tiny-gray', 'config.json'), 'utf8'));
    const during = Array.from({ length: 12 }, () => infer());
    const res = await post('/v2/repository/models/tiny-gray/load', { parameters: { config: JSON.stringify({ ...config, version: '7' }) } });
    assert.equal(res.statusCode, 200, res.body);
    const answers = await Promise.all(during);
    for (const answer of answers) assert.equal(answer.statusCode, 200, answer.body);
    const afterwards = await infer();
    assert.equal(afterwards.json().model_version, '7');
    // Same file, same weights: the same logits as before the reload.
    assert.deepEqual(afterwards.json().outputs[0].data, answers[0]!.json().outputs[0].data);
    assert.deepEqual((await app.inject({ url: '/v2/models/tiny-gray', headers: auth })).json().versions, ['7']);
    assert.equal((await app.inject({ url: '/v2/models/tiny-gray/versions/7/ready', headers: auth })).statusCode, 200);
  });

  test('a failed load changes nothing: 400 for an override that is not JSON, 422 for one that cannot be served', async () => {
    expectError(await post('/v2/repository/models/tiny-gray/load', { parameters: { config: '{not json' } }), 400, /JSON for parameters\.config/);
    expectError(await post('/v2/repository/models/tiny-gray/load', { parameters: { config: 42 } }), 400, /JSON string for parameters\.config/);
    const config = JSON.parse(await readFile(join(repo.root, 'tiny-gray', 'config.json'), 'utf8'));
    expectError(await post('/v2/repository/models/tiny-gray/load', { parameters: { config: JSON.stringify({ ...config, sha256: '0'.repeat(64) }) } }), 422, /sha256/);
    const still = await infer();
    assert.equal(still.statusCode, 200, still.body);
    assert.equal(still.json().model_version, '7');
    expectError(await post('/v2/repository/models/nope/load'), 404, /no model named nope/);
  });

  test('unload: the model is not ready, infer is a 503 {error}, the index says UNAVAILABLE; load brings it back', async () => {
    expectError(await post('/v2/repository/models/tiny-gray/unload', { parameters: { unload_dependents: 'x' } }), 400, /unload_dependents/);
    assert.deepEqual((await post('/v2/repository/models/tiny-gray/unload', { parameters: { unload_dependents: true } })).json(), {});
    assert.equal((await app.inject({ url: '/v2/models/tiny-gray/ready', headers: auth })).statusCode, 503);
    expectError(await infer(), 503, /not ready/);
    assert.deepEqual((await post('/v2/repository/index')).json().find((m: { name: string }) => m.name === 'tiny-gray'), { name: 'tiny-gray', version: '7', state: 'UNAVAILABLE', reason: 'unloaded' });
    assert.equal((await post('/v2/repository/models/tiny-gray/load')).statusCode, 200);
    const back = await infer();
    assert.equal(back.statusCode, 200, back.body);
    assert.equal(back.json().model_version, '1', 'loaded from the folder\'s own config again');
  });
});
