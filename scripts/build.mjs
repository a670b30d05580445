#!/usr/bin/env node
// `npm run build`: compiles the services with tsc into dist/ and copies beside them the files
// they read at run time relative to their own module (the contract, the demo page), so that
// dist/services/... finds them where services/... does. Models stay where MODEL_REPOSITORY says.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('..', import.meta.url);
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  // A production install (npm ci --omit=dev) has no TypeScript: run the build made beforehand.
  if (existsSync(new URL('dist/services/augment/server.js', root))) {
    console.error('build: TypeScript is not installed (production install); running the existing dist/');
    process.exit(0);
  }
  console.error('build: TypeScript is not installed and there is no dist/: run `npm ci` (with devDependencies), then `npm run build`');
  process.exit(1);
}
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);

mkdirSync(new URL('dist/', root), { recursive: true });
cpSync(new URL('openapi.yaml', root), new URL('dist/openapi.yaml', root));
cpSync(new URL('services/inference/public/', root), new URL('dist/services/inference/public/', root), { recursive: true });
// Plain JavaScript the services import (tsc compiles .ts only) and the gRPC contract they read.
for (const file of ['services/shared/parallelism.mjs', 'services/shared/parallelism.d.mts', 'services/inference/protocols/grpc_predict_v2.proto']) {
  cpSync(new URL(file, root), new URL(`dist/${file}`, root));
}
