import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { form } from '../helpers/form.ts';
import { makeImage } from '../helpers/images.ts';
import { buildTestApp, copyRepository, expectProblem } from './helpers.ts';

const KEY = 'operator-key-1';
const auth = { 'x-api-key': KEY };

describe('admin: load and unload models at run time', () => {
  let app: FastifyInstance;
  let repo: Awaited<ReturnType<typeof copyRepository>>;
  let photo: Buffer;
  const configPath = (name: string) => join(repo.root, name, 'config.json');
  const classify = (model: string) => app.inject({ method: 'POST', url: `/v1/models/${model}/classify`, headers: auth, body: form({ image: photo }) });
  const admin = (model: string, action: 'load' | 'unload', headers: Record<string, string> = auth) =>
    app.inject({ method: 'POST', url: `/v1/models/${model}/${action}`, headers });
  const rewrite = async (name: string, change: (config: any) => void) => {
    const config = JSON.parse(await readFile(configPath(name), 'utf8'));
    change(config);
    await writeFile(configPath(name), JSON.stringify(config, null, 2));
  };

  before(async () => {
    repo = await copyRepository();
    app = await buildTestApp({ MODEL_REPOSITORY: repo.root, API_KEYS: KEY });
    photo = await makeImage(20, 16);
  });
  after(async () => {
    await app.close();
    await repo.cleanup();
  });

  test('admin routes need the key', async () => {
    expectProblem(await admin('tiny-rgb', 'load', {}), 401, 'INF_UNAUTHORIZED');
    expectProblem(await admin('tiny-rgb', 'unload', { 'x-api-key': 'wrong' }), 401, 'INF_UNAUTHORIZED');
    assert.equal((await app.inject({ method: 'GET', url: '/v1/models/tiny-rgb', headers: auth })).json().state, 'ready', 'nothing happened');
  });

  test('a reload serves the new config; requests during it are all answered', async () => {
    await rewrite('tiny-rgb', (c) => {
      c.version = '2';
      c.labels = c.labels.map((label: string) => `new-${label}`);
    });
    const during = Array.from({ length: 12 }, () => classify('tiny-rgb'));
    const res = await admin('tiny-rgb', 'load');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().version, '2');
    assert.equal(res.json().state, 'ready');
    for (const answer of await Promise.all(during)) assert.equal(answer.statusCode, 200, answer.body);
    const after = await classify('tiny-rgb');
    assert.equal(after.statusCode, 200, after.body);
    assert.ok(after.json().results[0].predictions.every((p: { label: string }) => p.label.startsWith('new-')), after.body);
  });

  test('a reload that cannot be served is 422 and the loaded version keeps serving', async () => {
    await rewrite('tiny-rgb', (c) => {
      c.version = '3';
      c.sha256 = '0'.repeat(64);
    });
    const body = expectProblem(await admin('tiny-rgb', 'load'), 422, 'INF_MODEL_LOAD_FAILED');
    assert.match(body.detail, /sha256/);
    const info = (await app.inject({ method: 'GET', url: '/v1/models/tiny-rgb', headers: auth })).json();
    assert.deepEqual([info.state, info.version], ['ready', '2']);
    assert.equal((await classify('tiny-rgb')).statusCode, 200);
  });

  test('a folder added after start is served once loaded', async () => {
    await cp(join(repo.root, 'tiny-gray'), join(repo.root, 'tiny-gray-2'), { recursive: true });
    await rewrite('tiny-gray-2', (c) => (c.name = 'tiny-gray-2'));
    expectProblem(await classify('tiny-gray-2'), 404, 'INF_MODEL_NOT_FOUND');
    const res = await admin('tiny-gray-2', 'load');
    assert.equal(res.statusCode, 200, res.body);
    const [fresh, original] = await Promise.all([classify('tiny-gray-2'), classify('tiny-gray')]);
    assert.equal(fresh.statusCode, 200, fresh.body);
    assert.deepEqual(fresh.json().results, original.json().results, 'same file, same answers');
  });

  test('unload stops serving until the next load', async () => {
    const res = await admin('tiny-gray', 'unload');
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual([res.json().state, res.json().ready], ['unloaded', false]);
    expectProblem(await classify('tiny-gray'), 503, 'INF_MODEL_NOT_READY');
    assert.equal((await admin('tiny-gray', 'load')).json().state, 'ready');
    assert.equal((await classify('tiny-gray')).statusCode, 200);
  });

  test('names that are not model folders are 404', async () => {
    for (const name of ['nothing-here', 'ensembles', '..', '.hidden']) {
      expectProblem(await admin(encodeURIComponent(name), 'load'), 404, name === '..' ? 'INF_ROUTE_NOT_FOUND' : 'INF_MODEL_NOT_FOUND');
    }
    expectProblem(await admin('nothing-here', 'unload'), 404, 'INF_MODEL_NOT_FOUND');
  });
});

test('with API_KEYS unset, admin routes refuse everyone', async () => {
  const app = await buildTestApp();
  try {
    const res = await app.inject({ method: 'POST', url: '/v1/models/tiny-rgb/load', headers: auth });
    const body = expectProblem(res, 401, 'INF_UNAUTHORIZED');
    assert.match(body.detail, /API_KEYS/);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/models/tiny-rgb' })).json().state, 'ready');
  } finally {
    await app.close();
  }
});
