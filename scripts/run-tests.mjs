#!/usr/bin/env node
// Runs every test file under test/ (or the paths given) with node:test through tsx.
// Node 20's --test does not expand globs or pick up .ts files, so the list is made here.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path).sort()) {
      if (entry === 'node_modules' || entry === 'fixtures') continue;
      collect(join(path, entry), out);
    }
  } else if (path.endsWith('.test.ts')) {
    out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const flags = args.filter((arg) => arg.startsWith('--'));
const roots = args.filter((arg) => !arg.startsWith('--'));
const files = (roots.length ? roots : ['test']).flatMap((root) => collect(root, []));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...flags, ...files], {
  stdio: 'inherit',
  // Inference servers a test spawns serve no gRPC unless the test asks (8001 may be taken by
  // another checkout's tests on the same machine).
  env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent', INFERENCE_GRPC_PORT: process.env.INFERENCE_GRPC_PORT ?? '0' },
});
process.exit(result.status ?? 1);
