import assert from 'node:assert/strict';
import { mkdir, readFile, rename, copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { form } from '../helpers/form.ts';
import { makeImage } from '../helpers/images.ts';
import { buildTestApp, copyRepository } from './helpers.ts';

const KEY = 'versions-key';
const auth = { 'x-api-key': KEY };

/**
 * Numbered version folders (Triton's layout): `tiny-gray/1/` and `tiny-gray/2/` hold the same
 * weights; version 2's own config.json renames the labels, so every answer says which version ran.
 */
describe('model versions', () => {
  let app: FastifyInstance;
  let repo: Awaited<ReturnType<typeof copyRepository>>;
  let photo: Buffer;
  let rootConfig: Record<string, unknown>;
  const dir = () => join(repo.root, 'tiny-gray');

  const json = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    app.inject({ method, url, headers: auth, ...(payload === undefined ? {} : { payload: Buffer.from(JSON.stringify(payload)) }) });
  const classify = (url: string) => app.inject({ method: 'POST', url, headers: auth, body: form({ image: photo, top_k: 10 }) });
  const labelsOf = (res: { json(): any }) => res.json().results[0].predictions.map((p: { label: string }) => p.label).sort();
  const v2infer = (path: string) => json('POST', path, { inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'UINT8', data: Array.from({ length: 784 }, (_, i) => (i * 7) % 256) }] });
  /** Loads tiny-gray again with this version_policy (the V2 repository load's config override). */
  const withPolicy = (policy: unknown) => json('POST', '/v2/repository/models/tiny-gray/load', { parameters: { config: JSON.stringify({ ...rootConfig, version_policy: policy }) } });

  before(async () => {
    repo = await copyRepository();
    rootConfig = JSON.parse(await readFile(join(dir(), 'config.json'), 'utf8'));
    for (const version of ['1', '2']) {
      await mkdir(join(dir(), version));
      await copyFile(join(dir(), 'model.onnx'), join(dir(), version, 'model.onnx'));
    }
    await rename(join(dir(), 'model.onnx'), join(repo.root, 'unused.onnx.bak'));
    await writeFile(join(dir(), '2', 'config.json'), JSON.stringify({ labels: (rootConfig.labels as string[]).map((l) => `v2-${l}`) }));
    await writeFile(join(dir(), 'config.json'), JSON.stringify({ ...rootConfig, version_policy: { all: {} } }));
    await writeFile(join(repo.root, 'ensembles', 'pinned.json'), JSON.stringify({ members: ['tiny-gray:1', 'tiny-gray-nhwc'] }));
    app = await buildTestApp({ MODEL_REPOSITORY: repo.root, API_KEYS: KEY });
    photo = await makeImage(28, 28);
  });
  after(async () => {
    await app.close();
    await repo.cleanup();
  });

  test('GET /v1/models lists the versions served; the unversioned model is the highest', async () => {
    const model = (await json('GET', '/v1/models/tiny-gray')).json();
    assert.deepEqual(model.versions, ['1', '2']);
    assert.equal(model.version, '2');
    assert.ok(model.labels.every((l: string) => l.startsWith('v2-')));
    const list = (await json('GET', '/v1/models')).json();
    assert.deepEqual(list.models.find((m: { name: string }) => m.name === 'tiny-gray').versions, ['1', '2']);
    assert.deepEqual(list.models.find((m: { name: string }) => m.name === 'tiny-rgb').versions, ['1'], 'a flat folder is its config\'s version');
  });

  test('/v1 classify per version: each version\'s labels; the answer names name:version; unversioned = highest', async () => {
    const one = await classify('/v1/models/tiny-gray/versions/1/classify');
    assert.equal(one.statusCode, 200, one.body);
    assert.equal(one.json().model, 'tiny-gray:1');
    assert.deepEqual(labelsOf(one), [...(rootConfig.labels as string[])].sort());
    const two = await classify('/v1/models/tiny-gray/versions/2/classify');
    assert.ok(labelsOf(two).every((l: string) => l.startsWith('v2-')));
    // Same weights: the same probabilities in the same order.
    assert.deepEqual(two.json().results[0].predictions.map((p: { index: number; probability: number }) => [p.index, p.probability]), one.json().results[0].predictions.map((p: { index: number; probability: number }) => [p.index, p.probability]));
    assert.deepEqual(labelsOf(await classify('/v1/models/tiny-gray/classify')), labelsOf(two));
    const missing = await classify('/v1/models/tiny-gray/versions/3/classify');
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'INF_MODEL_NOT_FOUND');
    assert.match(missing.json().detail, /no version 3 \(served: 1, 2\)/);
  });

  test('/v2 versioned paths: metadata, ready and infer per version; unversioned infer answers version 2', async () => {
    assert.deepEqual((await json('GET', '/v2/models/tiny-gray/versions/1')).json().versions, ['1', '2']);
    assert.equal((await json('GET', '/v2/models/tiny-gray/versions/1/ready')).statusCode, 200);
    assert.equal((await json('GET', '/v2/models/tiny-gray/versions/3/ready')).statusCode, 404);
    const a = (await v2infer('/v2/models/tiny-gray/versions/1/infer')).json();
    const b = (await v2infer('/v2/models/tiny-gray/infer')).json();
    assert.equal(a.model_version, '1');
    assert.equal(b.model_version, '2');
    assert.deepEqual(a.outputs, b.outputs);
    const index = (await json('POST', '/v2/repository/index')).json().filter((m: { name: string }) => m.name === 'tiny-gray');
    assert.deepEqual(index, [{ name: 'tiny-gray', version: '1', state: 'READY' }, { name: 'tiny-gray', version: '2', state: 'READY' }]);
  });

  test('an ensemble may pin a member version ("tiny-gray:1"); the unpinned default follows the highest (other labels: not ready)', async () => {
    const pinned = await app.inject({ method: 'POST', url: '/v1/ensembles/pinned/classify', headers: auth, body: form({ image: photo }) });
    assert.equal(pinned.statusCode, 200, pinned.body);
    assert.deepEqual(pinned.json().models, ['tiny-gray:1', 'tiny-gray-nhwc']);
    assert.equal(pinned.json().results[0].members[0].model, 'tiny-gray:1');
    const ensembles = (await json('GET', '/v1/models')).json().ensembles;
    assert.equal(ensembles.find((e: { name: string }) => e.name === 'pinned').ready, true);
    const unpinned = ensembles.find((e: { name: string }) => e.name === 'default');
    assert.equal(unpinned.ready, false);
    assert.match(unpinned.reason, /different labels/);
  });

  test('version_policy: latest N (default 1), specific; a policy naming a missing version fails and changes nothing', async () => {
    assert.equal((await withPolicy({ latest: {} })).statusCode, 200);
    assert.deepEqual((await json('GET', '/v1/models/tiny-gray')).json().versions, ['2']);
    assert.equal((await json('GET', '/v2/models/tiny-gray/versions/1/ready')).statusCode, 404);
    assert.equal((await withPolicy({ specific: { versions: [1] } })).statusCode, 200);
    assert.deepEqual((await json('GET', '/v1/models/tiny-gray')).json().versions, ['1']);
    assert.equal((await v2infer('/v2/models/tiny-gray/infer')).json().model_version, '1', 'unversioned = the highest served');
    const pinned = await app.inject({ method: 'POST', url: '/v1/ensembles/pinned/classify', headers: auth, body: form({ image: photo }) });
    assert.equal(pinned.statusCode, 200, 'tiny-gray:1 still served');
    const bad = await withPolicy({ specific: { versions: [3] } });
    assert.equal(bad.statusCode, 422, bad.body);
    assert.match(bad.json().error, /version_policy\.specific\.versions/);
    assert.deepEqual((await json('GET', '/v1/models/tiny-gray')).json().versions, ['1'], 'the failed load changed nothing');
    assert.equal((await withPolicy({ latest: { num_versions: 0 } })).statusCode, 422);
    assert.equal((await withPolicy({ newest: {} })).statusCode, 422);
    // Back to the folder's own config (all versions).
    assert.equal((await json('POST', '/v1/models/tiny-gray/load')).statusCode, 200);
    assert.deepEqual((await json('GET', '/v1/models/tiny-gray')).json().versions, ['1', '2']);
  });

  test('unload stops every version; the index then lists each as unavailable', async () => {
    assert.equal((await json('POST', '/v1/models/tiny-gray/unload')).statusCode, 200);
    assert.deepEqual((await json('GET', '/v1/models/tiny-gray')).json().versions, []);
    assert.equal((await classify('/v1/models/tiny-gray/versions/1/classify')).statusCode, 503);
    const index = (await json('POST', '/v2/repository/index')).json().filter((m: { name: string }) => m.name === 'tiny-gray');
    assert.deepEqual(index.map((m: { version: string; state: string }) => [m.version, m.state]), [['1', 'UNAVAILABLE'], ['2', 'UNAVAILABLE']]);
  });
});
