import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { scalingSkipReason } from '../../bench/scaling-suite.ts';

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

  test('health.json: probes idle and under load from a separate process, the load answered, the two p95 targets read on the worst run', inference, () => {
    const file = readResults('health.json');
    assertCommon(file, 'health');
    const { runs, summary, load } = file.data;
    assert.equal(load.tta, true);
    assert.ok(runs.length >= 1);
    for (const [i, run] of runs.entries()) {
      for (const key of ['load_average_before', 'load_average_after']) assert.ok(run[key].length === 3 && run[key].every((v: number) => v >= 0), `run ${i} ${key}`);
      assert.ok(run.load.statuses['200'] > 0, `run ${i}: some requests answered 200 (${JSON.stringify(run.load.statuses)})`);
      assert.ok(run.load.images_per_second > 0, `run ${i}: images/s`);
      for (const phase of ['idle', 'saturated']) {
        for (const path of ['/health/live', '/health/ready']) {
          const s = run[phase][path];
          assert.ok(s.probes >= 1, `run ${i} ${phase} ${path}: probes`);
          assert.ok(s.p50_ms > 0 && s.p50_ms <= s.p95_ms && s.p95_ms <= s.p99_ms && s.p99_ms <= s.max_ms, `run ${i} ${phase} ${path}: ordered percentiles ${JSON.stringify(s)}`);
          assert.equal(s.failures, 0, `run ${i} ${phase} ${path}: every probe answered 200`);
        }
      }
    }
    assert.deepEqual(file.targets.map((t: any) => t.id), ['health/health/live/p95', 'health/health/ready/p95']);
    for (const t of file.targets) {
      const path = t.id.slice('health'.length, -'/p95'.length);
      assert.equal(t.value, Math.max(...runs.map((r: any) => r.saturated[path].p95_ms)), `${t.id} reads the worst run`);
      assert.equal(t.value, summary[path].worst_saturated_p95_ms);
      assert.deepEqual([t.target, t.compare], [50, '<=']);
    }
  });

  const scalingSkip = scalingSkipReason();
  test('scaling.json: the service pinned with taskset, throughput and CPU per item for each core count', { skip: scalingSkip ?? false }, () => {
    const file = readResults('scaling.json');
    assert.equal(file.suite, 'scaling');
    assert.equal(file.quick, true);
    const { rows, core_counts: counts } = file.data;
    assert.ok(counts.length >= 1 && rows.length >= 1);
    for (const row of rows) {
      for (const cores of counts) {
        const f = row.figures[cores];
        assert.ok(f.items_per_s > 0 && f.p50_ms > 0, `${row.workload} on ${cores} core(s): ${JSON.stringify(f)}`);
        assert.ok(f.service_cpu_ms_per_item > 0, `${row.workload} on ${cores} core(s): service CPU per item`);
        assert.ok(typeof f.event_loop_cpu_ms_per_item === 'number' && f.event_loop_cpu_ms_per_item >= 0, `${row.workload} on ${cores} core(s): event-loop CPU per item`);
      }
      const expected = row.figures[1] && row.figures[2] ? Math.round((row.figures[2].items_per_s / (2 * row.figures[1].items_per_s)) * 1000) / 1000 : null;
      assert.equal(row.efficiency_2_vs_1, expected);
    }
  });

  test('shard.json: the endpoint, in-process, both replica rows, the DataLoader and issue 24\'s recipe rows, positive figures and their ratios', () => {
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
    assert.deepEqual(file.targets.map((t: { id: string }) => t.id), ['shard/vs-in-process', 'shard/vs-dataloader', 'shard/recipe-vs-dataloader', 'shard/recipe-vs-in-process', 'shard/recipe-cache-warm-vs-dataloader']);
    // Issue 24's recipe rows: npy through the endpoint, in-process, cache warm, the DataLoader, and the trainer's CPU.
    const { recipe } = file.data;
    for (const name of ['shard_npy', 'in_process_npy', 'shard_npy_cache_warm', 'dataloader']) positive(recipe.rows[name], `recipe ${name}`);
    assert.ok(recipe.ratios.shard_vs_dataloader > 0 && recipe.ratios.cache_warm_vs_dataloader > 0 && recipe.ratios.shard_vs_in_process > 0);
    assert.ok(recipe.trainer_cpu_us.npy > 0 && recipe.trainer_cpu_us.jpeg > 0);
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
