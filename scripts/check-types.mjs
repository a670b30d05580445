#!/usr/bin/env node
// Fails when services/shared/api-types.ts is not what openapi-typescript makes of openapi.yaml
// today (run `npm run types` to regenerate it).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const fresh = execFileSync(process.execPath, ['node_modules/openapi-typescript/bin/cli.js', 'openapi.yaml'], { encoding: 'utf8' });
const committed = readFileSync('services/shared/api-types.ts', 'utf8');
if (fresh !== committed) {
  console.error('services/shared/api-types.ts is stale: run `npm run types` and commit the result');
  process.exit(1);
}
console.log('api-types.ts is up to date with openapi.yaml');
