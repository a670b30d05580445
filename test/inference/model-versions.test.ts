import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadModelVersions, readVersionPolicy, verifyModelFile } from '../../services/inference/model-config.ts';
import { copyRepository } from './helpers.ts';

/** The version layout read from disk (models/README.md, "Versions"), without loading sessions. */

let repo: Awaited<ReturnType<typeof copyRepository>>;
let dir: string;
let root: Record<string, unknown>;
before(async () => {
  repo = await copyRepository();
  dir = join(repo.root, 'tiny-gray');
  root = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
});
after(() => repo.cleanup());

const write = (raw: unknown) => writeFile(join(dir, 'config.json'), JSON.stringify(raw));

test('a flat folder is one version: its config\'s own', async () => {
  const configs = await loadModelVersions(dir);
  assert.deepEqual(configs.map((c) => [c.version, c.dir]), [['1', dir]]);
});

test('numbered folders are versions; the default policy serves the latest one; files resolve inside each', async () => {
  for (const v of ['1', '2', '10']) {
    await mkdir(join(dir, v), { recursive: true });
    await copyFile(join(dir, 'model.onnx'), join(dir, v, 'model.onnx'));
  }
  await mkdir(join(dir, 'notes'), { recursive: true }); // not a number: not a version
  const latest = await loadModelVersions(dir);
  assert.deepEqual(latest.map((c) => c.version), ['10'], 'numeric order, not text order');
  assert.equal(latest[0]!.dir, join(dir, '10'));
  assert.equal(await verifyModelFile(latest[0]!), join(dir, '10', 'model.onnx'));
  await write({ ...root, version_policy: { latest: { num_versions: 2 } } });
  assert.deepEqual((await loadModelVersions(dir)).map((c) => c.version), ['2', '10']);
  await write({ ...root, version_policy: { all: {} } });
  assert.deepEqual((await loadModelVersions(dir)).map((c) => c.version), ['1', '2', '10']);
  await write({ ...root, version_policy: { specific: { versions: [10, '1'] } } });
  assert.deepEqual((await loadModelVersions(dir)).map((c) => c.version), ['1', '10']);
});

test('a version\'s own config.json overrides the model\'s fields for that version only', async () => {
  await write({ ...root, version_policy: { all: {} } });
  await writeFile(join(dir, '2', 'config.json'), JSON.stringify({ file: 'other.onnx', sha256: 'a'.repeat(64), labels: (root.labels as string[]).map((l) => `x-${l}`) }));
  const byVersion = new Map((await loadModelVersions(dir)).map((c) => [c.version, c]));
  assert.equal(byVersion.get('2')!.file, 'other.onnx');
  assert.equal(byVersion.get('2')!.labels[0], `x-${(root.labels as string[])[0]}`);
  assert.equal(byVersion.get('1')!.file, 'model.onnx');
  await assert.rejects(verifyModelFile(byVersion.get('2')!), /other\.onnx is missing/);
  await writeFile(join(dir, '2', 'config.json'), JSON.stringify({ name: 'someone-else' }));
  await assert.rejects(loadModelVersions(dir), /2\/config\.json name/);
  await writeFile(join(dir, '2', 'config.json'), '{broken');
  await assert.rejects(loadModelVersions(dir), /2\/config\.json/);
  await rm(join(dir, '2', 'config.json'));
});

test('version_policy is checked: unknown forms, N < 1, versions that are not folders', async () => {
  assert.deepEqual(readVersionPolicy(undefined, 'm'), { latest: 1 });
  const bad: unknown[] = [{ newest: {} }, { latest: { num_versions: 0 } }, { specific: { versions: [] } }, { specific: { versions: ['x'] } }, { all: {}, latest: {} }, 'all'];
  for (const policy of bad) assert.throws(() => readVersionPolicy(policy, 'm'), /version_policy/, JSON.stringify(policy));
  await write({ ...root, version_policy: { specific: { versions: [3] } } });
  await assert.rejects(loadModelVersions(dir), /versions present as folders \(1, 2, 10\)/);
});
