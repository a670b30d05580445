import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { readmeWithTable } from '../../scripts/settings-table.ts';

test('the README lists every setting of both services, as the code declares it', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.equal(readme, readmeWithTable(readme), 'README.md is stale: run `npx tsx scripts/settings-table.ts --write`');
});

test('the README keeps its two commands', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.match(readme, /npm install && npm start/);
  assert.match(readme, /npm test/);
});
