import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { readInferenceConfig } from '../../services/inference/config.ts';
import { ConfigError } from '../../services/shared/config.ts';
import { cores, inferenceParallelism, serviceEnv, threadpoolSize } from '../../services/shared/parallelism.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('the pool follows the cores: AUGSERVE_CORES pretends N, never below Node’s 4, shared among augment processes', () => {
  const cases: Array<[Record<string, string>, 'augment' | 'inference', number]> = [
    [{ AUGSERVE_CORES: '1' }, 'augment', 4],
    [{ AUGSERVE_CORES: '2' }, 'inference', 4],
    [{ AUGSERVE_CORES: '16' }, 'augment', 16],
    [{ AUGSERVE_CORES: '64' }, 'inference', 64],
    [{ AUGSERVE_CORES: '64', AUGMENT_PROCESSES: '4' }, 'augment', 16],
    [{ AUGSERVE_CORES: '64', AUGMENT_PROCESSES: 'auto' }, 'augment', 4],
    [{ AUGSERVE_CORES: '64', AUGMENT_PROCESSES: '4' }, 'inference', 64],
    [{ AUGSERVE_CORES: '4096' }, 'inference', 1024],
  ];
  for (const [env, service, expected] of cases) assert.equal(threadpoolSize(service, env), expected, JSON.stringify({ env, service }));
  assert.equal(cores({}), availableParallelism());
  assert.equal(cores({ AUGSERVE_CORES: 'auto' }), availableParallelism());
  assert.throws(() => cores({ AUGSERVE_CORES: '0' }), /AUGSERVE_CORES: expected a positive integer, got "0"/);
  assert.throws(() => cores({ AUGSERVE_CORES: '2.5' }), /AUGSERVE_CORES/);
});

test('an operator’s UV_THREADPOOL_SIZE is kept; otherwise it is set', () => {
  assert.equal(serviceEnv('augment', { AUGSERVE_CORES: '32', UV_THREADPOOL_SIZE: '6' }).UV_THREADPOOL_SIZE, '6');
  assert.equal(serviceEnv('augment', { AUGSERVE_CORES: '32' }).UV_THREADPOOL_SIZE, '32');
  assert.equal(serviceEnv('augment', { AUGSERVE_CORES: '32', UV_THREADPOOL_SIZE: '' }).UV_THREADPOOL_SIZE, '32');
});

test('inference workers × intra-op threads ≈ cores', () => {
  const table: Array<[number, number | undefined, { workers: number; intraOpThreads: number }]> = [
    [1, undefined, { workers: 1, intraOpThreads: 1 }],
    [2, undefined, { workers: 1, intraOpThreads: 2 }],
    [16, undefined, { workers: 4, intraOpThreads: 4 }],
    [64, undefined, { workers: 16, intraOpThreads: 4 }],
    [16, 2, { workers: 2, intraOpThreads: 8 }],
    [2, 4, { workers: 4, intraOpThreads: 1 }],
  ];
  for (const [count, workers, expected] of table) assert.deepEqual(inferenceParallelism(count, workers), expected, `${count} cores, workers ${workers}`);
  const config = readInferenceConfig({ AUGSERVE_CORES: '16' });
  assert.deepEqual([config.cores, config.workers, config.intraOpThreads], [16, 4, 4]);
  const fixed = readInferenceConfig({ AUGSERVE_CORES: '16', INFERENCE_WORKERS: '2', INTRA_OP_THREADS: '0' });
  assert.deepEqual([fixed.workers, fixed.intraOpThreads], [2, 0]);
  assert.equal(readAugmentConfig({ AUGSERVE_CORES: '16', AUGMENT_PROCESSES: 'auto' }).processes, 4);
  assert.equal(readAugmentConfig({ AUGSERVE_CORES: '16' }).processes, 1);
  // Room for 8 requests per core of each process, never below 64; an operator's number wins.
  const slots = (env: NodeJS.ProcessEnv) => readAugmentConfig(env).maxConcurrentRequests;
  assert.deepEqual(
    [slots({ AUGSERVE_CORES: '2' }), slots({ AUGSERVE_CORES: '16' }), slots({ AUGSERVE_CORES: '16', AUGMENT_PROCESSES: 'auto' }), slots({ AUGSERVE_CORES: '64', AUGMENT_PROCESSES: '3' }), slots({ AUGSERVE_CORES: '16', MAX_CONCURRENT_REQUESTS: '5' })],
    [64, 128, 64, 176, 5],
  );
  assert.throws(() => readAugmentConfig({ AUGSERVE_CORES: 'many', AUGMENT_PROCESSES: '0' }), (error: Error) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /AUGSERVE_CORES: expected auto or an integer/);
    assert.match(error.message, /AUGMENT_PROCESSES: expected auto or an integer/);
    return true;
  });
});

/**
 * `npm start`'s launcher run for real, in a folder whose services are stand-ins that write the
 * environment they were started with and exit: no real service, nothing long-lived. One service
 * per launch: a stand-in that exits makes the launcher stop its sibling, maybe before it wrote.
 */
async function launchStandIns(env: Record<string, string>): Promise<Record<string, string | undefined>> {
  const pools: Record<string, string | undefined> = {};
  for (const name of ['augment', 'inference']) pools[name] = (await launchStandIn(name, env))[name];
  return pools;
}

async function launchStandIn(service: string, env: Record<string, string>): Promise<Record<string, string | undefined>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'augserve-launcher-'));
  try {
    symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
    for (const name of ['augment', 'inference']) {
      // Where `npm start` runs each service from: the compiled tree.
      mkdirSync(path.join(dir, 'dist', 'services', name), { recursive: true });
      writeFileSync(
        path.join(dir, 'dist', 'services', name, 'server.js'),
        `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(path.join(dir, `${name}.pool`))}, String(process.env.UV_THREADPOOL_SIZE));\n`,
      );
    }
    const { UV_THREADPOOL_SIZE: _ignored, ...parentEnv } = process.env;
    const child = spawn(process.execPath, [path.join(root, 'scripts', 'start.mjs'), service], { cwd: dir, env: { ...parentEnv, ...env }, stdio: 'inherit' });
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    return { [service]: readFileSync(path.join(dir, `${service}.pool`), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('npm start gives each service UV_THREADPOOL_SIZE from the cores before it starts', async () => {
  assert.deepEqual(await launchStandIns({ AUGSERVE_CORES: '24' }), { augment: '24', inference: '24' });
  assert.deepEqual(await launchStandIns({ AUGSERVE_CORES: '24', AUGMENT_PROCESSES: '3' }), { augment: '8', inference: '24' });
  assert.deepEqual(await launchStandIns({ AUGSERVE_CORES: '24', UV_THREADPOOL_SIZE: '5' }), { augment: '5', inference: '5' });
});

test('the container entrypoint exports UV_THREADPOOL_SIZE from AUGSERVE_CORES before node starts, and refuses a bad value', () => {
  // The real entrypoint, run with AUGSERVE_HOME at a folder whose augment service is a stand-in that prints the variable.
  const home = mkdtempSync(path.join(tmpdir(), 'augserve-entrypoint-'));
  try {
    symlinkSync(path.join(root, 'node_modules'), path.join(home, 'node_modules'));
    // The image's layout: the compiled tree under dist/ (scripts/build.mjs copies parallelism.mjs there).
    mkdirSync(path.join(home, 'dist', 'services', 'shared'), { recursive: true });
    mkdirSync(path.join(home, 'dist', 'services', 'augment'), { recursive: true });
    writeFileSync(path.join(home, 'dist', 'services', 'shared', 'parallelism.mjs'), readFileSync(path.join(root, 'services', 'shared', 'parallelism.mjs')));
    writeFileSync(path.join(home, 'dist', 'services', 'augment', 'server.js'), 'process.stdout.write(String(process.env.UV_THREADPOOL_SIZE));\n');
    const { UV_THREADPOOL_SIZE: _ignored, ...parentEnv } = process.env;
    const run = (env: Record<string, string>) =>
      spawnSync('sh', [path.join(root, 'deploy', 'docker-entrypoint.sh'), 'augment'], { env: { ...parentEnv, AUGSERVE_HOME: home, ...env }, encoding: 'utf8' });
    assert.equal(run({ AUGSERVE_CORES: '12' }).stdout, '12');
    assert.equal(run({ AUGSERVE_CORES: '12', AUGMENT_PROCESSES: '4' }).stdout, '4');
    assert.equal(run({ AUGSERVE_CORES: '12', UV_THREADPOOL_SIZE: '9' }).stdout, '9');
    const bad = run({ AUGSERVE_CORES: 'twelve' });
    assert.equal(bad.status, 78);
    assert.match(bad.stderr, /AUGSERVE_CORES: expected a positive integer, got "twelve"/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('the service reports its parallelism on /metrics', async (t) => {
  const app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', AUGSERVE_CORES: '12', AUGMENT_PROCESSES: '3' }));
  t.after(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  const value = (setting: string) => Number(new RegExp(`^service_parallelism\\{setting="${setting}"\\} (\\d+)$`, 'm').exec(res.body)?.[1]);
  assert.equal(value('cores'), 12);
  assert.equal(value('augment_processes'), 3);
  assert.equal(value('sharp_concurrency'), 1);
  // This test process was started without the launcher's setting or with whatever the runner gave it.
  assert.equal(value('uv_threadpool'), Number(process.env.UV_THREADPOOL_SIZE || 4));
});
