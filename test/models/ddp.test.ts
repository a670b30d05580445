import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findDataDir } from '../../models/evaluation/fashion-mnist.ts';
import { freePort } from '../helpers/ports.ts';
import { pythonTorchMissing, runPython, TRAINING } from './python.ts';

test('DDP with gloo: two ranks end with identical weights', async (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  if (!findDataDir()) return t.skip('dataset-fashion-mnist not installed: nothing to train on');
  const dir = mkdtempSync(join(tmpdir(), 'zoo-ddp-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const port = String(await freePort()); // a port the kernel says is free, not a random draw
  // --redirects/--tee given explicitly: Debian's torch 1.13 launcher fails to parse its
  // default "0" under Python 3.12 (zero-valued IntFlag members are not iterable).
  runPython(['-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', port,
    '--redirects', '1', '--tee', '1', '--log_dir', join(dir, 'logs'),
    join(TRAINING, 'train.py'), '--arch', 'googlenet', '--out', join(dir, 'run'), '--epochs', '1',
    '--limit', '128', '--batch-size', '32', '--steps', '2', '--val-limit', '32', '--test-limit', '32',
    '--threads', '1'], 300_000);
  const rankHash = (r: number): string => readFileSync(join(dir, 'run', `rank${r}.sha256`), 'utf8').trim();
  const [h0, h1] = [rankHash(0), rankHash(1)];
  assert.match(h0, /^[0-9a-f]{64}$/);
  assert.equal(h0, h1);
  const log = JSON.parse(readFileSync(join(dir, 'run', 'train_log.json'), 'utf8'));
  assert.equal(log.world_size, 2);
  assert.equal(log.steps, 2);
});
