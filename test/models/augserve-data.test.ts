import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { PYTHON, REPO, TRAINING, pythonTorchMissing } from './python.ts';

// Synthetic 28x28 grey images (no dataset needed): shards written by write_shards, read back
// through the service by a DataLoader with 2 workers, twice for epoch 0 and once for epoch 1.
const SCRIPT = `
import json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np, torch
from torch.utils.data import DataLoader
from augserve_data import AugserveShards, write_shards
rng = np.random.default_rng(0)
x = rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8)
y = np.arange(60) % 10
paths = write_shards(x, y, sys.argv[3], shard_size=16)
ops = [{"op": "flip", "p": 0.5}, {"op": "cutout", "p": 0.5, "size_ratio": 0.3}]
def run(epoch, workers, format=None):
    ds = AugserveShards(paths, sys.argv[2], ops, seed=5, epoch=epoch, format=format)
    pairs = [(xb, yb) for xb, yb in DataLoader(ds, batch_size=None, num_workers=workers)]
    order = sorted(range(len(pairs)), key=lambda i: (int(pairs[i][1]), pairs[i][0].sum().item()))
    return torch.stack([pairs[i][0] for i in order]), [int(pairs[i][1]) for i in order]
a, la = run(0, 2)
b, lb = run(0, 0)
c, _ = run(1, 2)
d, ld = run(0, 2, "npy")
print(json.dumps({"n": len(la), "shape": list(a.shape[1:]), "dtype": str(a.dtype),
  "labels": sorted(la) == sorted(y.tolist()), "same_epoch_same": bool(torch.equal(a, b)) and la == lb,
  "next_epoch_differs": not torch.equal(a, c),
  "npy_same": bool(torch.equal(a, d)) and la == ld, "npy_dtype": str(d.dtype), "unchanged": int(sum(torch.equal(a[i, 0], torch.from_numpy(x[j])) for i in range(60) for j in range(60)))}))
`;

test('augserve_data.AugserveShards: DataLoader workers read every sample once, seeds from the epoch, npy equals PNG', async (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  const app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
  const dir = mkdtempSync(join(tmpdir(), 'augserve-data-'));
  t.after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  // Spawned, not spawnSync: the service answering it runs in this process's event loop.
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', SCRIPT, TRAINING, url, dir], { cwd: REPO });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`python exited ${code}:\n${out}\n${err}`))));
  });
  const result = JSON.parse(output.trim().split('\n').at(-1)!);
  assert.equal(result.n, 60);
  assert.deepEqual(result.shape, [1, 28, 28]);
  assert.equal(result.dtype, 'torch.uint8');
  assert.equal(result.labels, true);
  assert.equal(result.same_epoch_same, true);
  assert.equal(result.next_epoch_differs, true);
  // format=npy (tensors, no decode in the trainer) gives the PNG path's pixels exactly.
  assert.equal(result.npy_same, true);
  assert.equal(result.npy_dtype, 'torch.uint8');
  // Each p=0.5 step leaves about a quarter of the images untouched: some are, not all.
  assert.ok(result.unchanged > 0 && result.unchanged < 60, String(result.unchanged));
});
