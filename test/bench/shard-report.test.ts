import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { shardMarkdown, type ShardFile } from '../../bench/report.ts';
import type { ShardRow, ShardSuiteResult } from '../../bench/shard-suite.ts';
import { RECIPE_TARGETS, SHARD_TARGETS, shardTargets } from '../../bench/targets.ts';

const row = (images_per_s: number) => ({ images_per_s, per_run: [images_per_s] });

function data(shard: number, inProcess: number, sameOps: number | undefined): ShardSuiteResult {
  const dataloader: Record<string, ShardRow> = sameOps === undefined ? {} : { 'same-ops': row(sameOps), 'same-ops-jpeg': row(sameOps * 0.9) };
  return {
    image: '256×256 JPEG',
    ops: [],
    samples: 1000,
    replica_samples: 500,
    concurrency: 2,
    uv_threadpool_size: '4',
    bench_uv_threadpool_size: 4,
    rows: { shard: row(shard), in_process: row(inProcess), two_shards_one_replica: row(150), two_shards_two_replicas: row(140), dataloader },
    ratios: {
      shard_vs_in_process: shard / inProcess,
      shard_vs_dataloader: Object.fromEntries(Object.entries(dataloader).map(([v, r]) => [v, shard / r.images_per_s])),
      two_replicas_vs_one: 140 / 150,
    },
    rss: [{ shard_mib: 128, samples: 6604, status: 200, seconds: 42, rss_before_mib: 154, rss_peak_during_mib: 170, answer_mib: 95 }],
    python_versions: {},
  };
}

describe('shard suite report', () => {
  test('targets: shard ÷ in-process against 0.95, shard ÷ the same-operations DataLoader against 2, met exactly at the line', () => {
    const cases: Array<[number, number, number, boolean, boolean]> = [
      // shard, in-process, DataLoader same-ops, in-process met, DataLoader met
      [95, 100, 47.5, true, true],
      [94, 100, 47, false, true],
      [100, 100, 50.5, true, false],
    ];
    for (const [shard, inProcess, sameOps, metIn, metLoader] of cases) {
      const targets = shardTargets(data(shard, inProcess, sameOps).ratios);
      assert.deepEqual(targets.map((t) => [t.id, t.target, t.met]), [
        ['shard/vs-in-process', SHARD_TARGETS.vsInProcess, metIn],
        ['shard/vs-dataloader', SHARD_TARGETS.vsDataLoader, metLoader],
      ]);
    }
  });

  test('without the Python rows there is no DataLoader target (not a failed one)', () => {
    assert.deepEqual(shardTargets(data(100, 100, undefined).ratios).map((t) => t.id), ['shard/vs-in-process']);
  });

  test('the table names every row, marks the targets, and labels the replica row as overhead', () => {
    const d = data(120, 100, 300);
    const file: ShardFile = {
      suite: 'shard',
      generated_at: '2026-01-01T00:00:00Z',
      command: 'npm run bench -- --suite shard',
      quick: false,
      commit: 'abc1234',
      machine: { cores: 2, cpu_model: 'cpu', memory_gib: 8, load_average_at_start: [1, 1, 1] },
      versions: { node: '20' },
      settings: {},
      data: d,
      targets: shardTargets(d.ratios),
    };
    const md = shardMarkdown(file);
    assert.match(md, /\| `POST \/v1\/augment\/shard`, one shard of 1000 samples \| 120 \| 120 \|/);
    assert.match(md, /\| in-process: `augmentSample`, 2 at a time, no HTTP or tar \| 100 \| 100 \|/);
    assert.match(md, /the same operations \(bilinear rotation, Lanczos-3 resize, the same Cutout\), tensor out \| 300 \|/);
    assert.match(md, /the same operations \+ JPEG encode \(q90\), bytes out \| 270 \|/);
    assert.match(md, /overhead, not scaling/);
    assert.match(md, /Shard ÷ in-process 1\.20× ✅/);
    assert.match(md, /same-ops 0\.40× ❌/);
    assert.match(md, /\| 128 MiB \| 6604 \| 42 \| 154 \| 170 \|/);
  });

  test('issue 24 recipe: its rows, the three targets at 1.0, 0.95 and 2.0, and the trainer CPU', () => {
    const d: ShardSuiteResult = {
      ...data(120, 100, 300),
      recipe: {
        ops: [],
        cache_mb: 256,
        rows: { shard_npy: row(200), in_process_npy: row(220), shard_npy_cache_warm: row(390), dataloader: row(200) },
        ratios: { shard_vs_in_process: 200 / 220, shard_vs_dataloader: 1, cache_warm_vs_dataloader: 1.95 },
        trainer_cpu_us: { npy: 90, jpeg: 350 },
      },
    };
    const targets = shardTargets(d.ratios, d.recipe!.ratios);
    assert.deepEqual(targets.slice(2).map((t) => [t.id, t.target, t.met]), [
      ['shard/recipe-vs-dataloader', RECIPE_TARGETS.vsDataLoader, true],
      ['shard/recipe-vs-in-process', RECIPE_TARGETS.vsInProcess, false],
      ['shard/recipe-cache-warm-vs-dataloader', RECIPE_TARGETS.cacheWarmVsDataLoader, false],
    ]);
    const file: ShardFile = {
      suite: 'shard',
      generated_at: '2026-01-01T00:00:00Z',
      command: 'npm run bench -- --suite shard',
      quick: false,
      commit: 'abc1234',
      machine: { cores: 2, cpu_model: 'cpu', memory_gib: 8, load_average_at_start: [1, 1, 1] },
      versions: { node: '20' },
      settings: {},
      data: d,
      targets,
    };
    const md = shardMarkdown(file);
    assert.match(md, /\| `POST \/v1\/augment\/shard`, format=npy \| 200 \| 200 \|/);
    assert.match(md, /SHARD_CACHE_MB=256 warm \(a later epoch\) \| 390 \|/);
    assert.match(md, /Shard ÷ DataLoader 1\.00× ✅; shard ÷ in-process 0\.91× ❌; cache warm ÷ DataLoader 1\.95× ❌/);
    assert.match(md, /`\.npy` 90\.0 µs, JPEG q90 350 µs/);
  });
});
