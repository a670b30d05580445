import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

/**
 * Runs `npm run bench -- --quick` once (a few hundred requests, every suite) into a temporary
 * folder and checks the results files: their shape, and that every figure is a positive number.
 * Whether targets are met is not checked: that depends on the machine, the files only report it.
 */
const out = mkdtempSync(join(tmpdir(), 'bench-quick-'));
let run: ReturnType<typeof spawnSync>;

/** The bench compares against Pillow, OpenCV, torchvision and PyTorch (Debian's python3-* packages). */
function pythonStacksMissing(): string | undefined {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import cv2, PIL, numpy, torch, torchvision, onnx'], { encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  return `the Python baselines cannot run (install python3-opencv python3-torchvision python3-onnx): ${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()}`;
}
const missing = pythonStacksMissing();

before(() => {
  if (missing) return;
  run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out], {
    encoding: 'utf8',
    timeout: 900_000, // a guard against a hung bench, far beyond a quick run on a busy machine
    env: { ...process.env, BENCH_QUICK: '1' },
  });
});
after(() => rmSync(out, { recursive: true, force: true }));

function readResults(name: string) {
  assert.equal(run.status, 0, `bench exited with ${run.status}:\n${String(run.stderr).slice(-3000)}`);
  return JSON.parse(readFileSync(join(out, name), 'utf8'));
}

function assertFigures(r: Record<string, unknown>, where: string) {
  for (const key of ['throughput', 'p50_ms', 'p99_ms']) {
    const v = r[key];
    assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `${where}: ${key} is ${String(v)}, expected a positive number`);
  }
  assert.ok(Array.isArray(r.per_run) && (r.per_run as number[]).every((v) => v > 0), `${where}: per_run`);
  assert.ok((r.runs as number) >= 1, `${where}: runs`);
}

function assertCommon(file: Record<string, any>, suite: string) {
  assert.equal(file.suite, suite);
  assert.equal(file.quick, true);
  assert.ok(Number.isInteger(file.machine.cores) && file.machine.cores > 0);
  for (const key of ['node', 'sharp', 'libvips', 'onnxruntime-node', 'autocannon']) {
    assert.equal(typeof file.versions[key], 'string', `versions.${key}`);
  }
  assert.ok(Array.isArray(file.targets) && file.targets.length > 0, 'targets');
  for (const t of file.targets) {
    assert.equal(typeof t.met, 'boolean');
    assert.equal(typeof t.value, 'number');
  }
}

describe('npm run bench -- --quick', { skip: missing ?? false }, () => {
  test('augment.json: every operation against in-process sharp and Python, positive figures, matching sizes', () => {
    const file = readResults('augment.json');
    assertCommon(file, 'augment');
    for (const key of ['pillow', 'opencv', 'numpy']) assert.equal(typeof file.versions.python[key], 'string', `versions.python.${key}`);
    const { results, ratios } = file.data;
    for (const op of ['flip', 'rotate', 'crop', 'scale', 'cutout', 'cutmix']) {
      for (const stack of ['service', 'sharp-in-process', 'pillow', 'opencv']) {
        const mine = results.filter((r: any) => r.op === op && r.stack === stack);
        assert.ok(mine.length > 0, `${op} ${stack} measured`);
        for (const r of mine) assertFigures(r, `${op} ${stack} c=${r.concurrency}`);
      }
    }
    for (const op of ['flip', 'rotate', 'crop', 'scale', 'cutout']) {
      const raw = results.filter((r: any) => r.op === op && r.stack === 'service-raw');
      assert.ok(raw.length > 0, `${op} raw body measured`);
      for (const r of raw) assertFigures(r, `${op} service-raw c=${r.concurrency}`);
    }
    assert.equal(results.filter((r: any) => r.op === 'cutmix' && r.stack === 'service-raw').length, 0, 'cutmix is multipart only');
    assert.ok(ratios.length > 0);
    for (const r of ratios) {
      assert.ok(r.service_vs_sharp > 0 && r.service_vs_best_python > 0, `${r.op} ratios`);
      if (r.op !== 'cutmix') assert.ok(r.service_raw_vs_sharp > 0, `${r.op} raw-body ratio`);
      assert.equal(r.dims_match, true, `${r.op} output sizes agree`);
    }
  });

  const inference = { skip: existsSync('services/inference/server.ts') ? false : 'the inference service is not there yet' };

  test('inference.json: service, raw session and PyTorch, positive figures', inference, () => {
    const file = readResults('inference.json');
    assertCommon(file, 'inference');
    const stacks = new Set(file.data.results.map((r: any) => r.stack));
    for (const stack of ['service-batching', 'raw-session', 'raw-session-run-only', 'pytorch-eager']) assert.ok(stacks.has(stack), `${stack} measured`);
    for (const r of file.data.results) {
      assertFigures(r, `${r.model} ${r.stack} c=${r.concurrency} batch=${r.batch}`);
      assert.equal(r.unit, 'images/s');
    }
    assert.ok(file.data.ratios.length > 0);
    for (const r of file.data.ratios) assert.ok(r.raw_best_images_per_s > 0);
  });

  test('shard.json: the endpoint, in-process, both replica rows and the DataLoader, positive figures and their ratios', () => {
    const file = readResults('shard.json');
    assertCommon(file, 'shard');
    const { rows, ratios } = file.data;
    const positive = (r: { images_per_s: number; per_run: number[] } | undefined, where: string) => {
      assert.ok(r && r.images_per_s > 0 && r.per_run.length >= 1 && r.per_run.every((v) => v > 0), `${where}: ${JSON.stringify(r)}`);
    };
    for (const name of ['shard', 'in_process', 'two_shards_one_replica', 'two_shards_two_replicas']) positive(rows[name], name);
    for (const variant of ['same-ops', 'same-ops-jpeg']) {
      positive(rows.dataloader[variant], `DataLoader ${variant}`);
      assert.ok(ratios.shard_vs_dataloader[variant] > 0, `shard ÷ DataLoader ${variant}`);
    }
    assert.ok(ratios.shard_vs_in_process > 0 && ratios.two_replicas_vs_one > 0);
    assert.deepEqual(file.targets.map((t: { id: string }) => t.id), ['shard/vs-in-process', 'shard/vs-dataloader']);
    assert.equal(typeof file.versions.python.torchvision, 'string');
  });

  test('plots are SVG', () => {
    assert.equal(run.status, 0);
    for (const name of existsSync(join(out, 'inference.svg')) ? ['augment.svg', 'inference.svg'] : ['augment.svg']) {
      const svg = readFileSync(join(out, name), 'utf8');
      assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assert.match(svg, /<path d="M/);
    }
  });
});
