#!/usr/bin/env node
// `npm run build`: compiles the services with tsc into dist/ and copies beside them the files
// they read at run time relative to their own module (the contract, the demo page), so that
// dist/services/... finds them where services/... does. Models stay where MODEL_REPOSITORY says.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('..', import.meta.url);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);

mkdirSync(new URL('dist/', root), { recursive: true });
cpSync(new URL('openapi.yaml', root), new URL('dist/openapi.yaml', root));
cpSync(new URL('services/inference/public/', root), new URL('dist/services/inference/public/', root), { recursive: true });
