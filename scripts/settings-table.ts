// The README's configuration table, made from the settings the services declare so that the
// documentation cannot drift from the code. `npx tsx scripts/settings-table.ts --write`
// rewrites the README between its settings markers; test/shared/readme.test.ts compares.
import { readFileSync, writeFileSync } from 'node:fs';
import { augmentSettings } from '../services/augment/config.ts';
import { inferenceSettings } from '../services/inference/config.ts';

const START = '<!-- settings:start -->';
const END = '<!-- settings:end -->';

export function settingsTable(): string {
  const rows = new Map<string, { description: string; defaults: Array<[string, string]> }>();
  for (const [service, settings] of [['augment', augmentSettings], ['inference', inferenceSettings]] as const) {
    for (const item of Object.values(settings)) {
      const row = rows.get(item.env) ?? { description: item.description, defaults: [] };
      const fallback = Array.isArray(item.default) ? item.default.join(',') : String(item.default);
      row.defaults.push([service, fallback === '' ? '(none)' : `\`${fallback}\``]);
      rows.set(item.env, row);
    }
  }
  const lines = ['| Variable | Service | Default | Meaning |', '|---|---|---|---|'];
  for (const [env, row] of rows) {
    const service = row.defaults.length === 2 ? 'both' : row.defaults[0]![0];
    const same = row.defaults.every(([, value]) => value === row.defaults[0]![1]);
    const fallback = same ? row.defaults[0]![1] : row.defaults.map(([name, value]) => `${name}: ${value}`).join(', ');
    lines.push(`| \`${env}\` | ${service} | ${fallback} | ${row.description} |`);
  }
  return lines.join('\n');
}

/** The README with its settings section replaced by the current table. */
export function readmeWithTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks ${START} ... ${END}`);
  return `${readme.slice(0, start + START.length)}\n${settingsTable()}\n${readme.slice(end)}`;
}

if (process.argv.includes('--write')) {
  const path = new URL('../README.md', import.meta.url);
  writeFileSync(path, readmeWithTable(readFileSync(path, 'utf8')));
}
