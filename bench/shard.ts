// The shard suite of `npm run bench` on its own, with its options open, and the large RSS shards
// that do not fit the bench's time (docs/BENCHMARKS.md, "Shards"):
//   node --import tsx bench/shard.ts [--samples 1000] [--runs 3] [--rss-mib 256,1024] [--no-python] [--out bench/work/shard.json]
//   node --import tsx bench/shard.ts --rss-only --rss-mib 2048
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { machineInfo } from './machine.ts';
import { measureShardRss, runShardSuite } from './shard-suite.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    'rss-mib': { type: 'string', default: '256,1024' },
    'no-python': { type: 'boolean', default: false },
    'rss-only': { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/work/shard.json' },
  },
});
const log = (line: string) => process.stderr.write(`${line}\n`);
const rssMiB = String(values['rss-mib']).split(',').filter(Boolean).map(Number);
const machine = machineInfo();
const result = values['rss-only']
  ? { machine, rss: await measureShardRss(rssMiB, log) }
  : {
      machine,
      ...(await runShardSuite({
        samples: Number(values.samples),
        runs: Number(values.runs),
        replicaSamples: Number(values.samples),
        rssMiB,
        pythonVariants: values['no-python'] ? [] : ['defaults', 'same-ops', 'same-ops-jpeg'],
        workDir: resolve('bench/work'),
        log,
      })),
    };
mkdirSync(dirname(String(values.out)), { recursive: true });
writeFileSync(String(values.out), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
