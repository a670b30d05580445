// The 1-vs-2-core measurement (bench/scaling-suite.ts) with any settings: the `scaling` suite of
// `npm run bench` runs the defaults and writes the table in docs/BENCHMARKS.md; this script is for
// variants (other core counts, one workload, settings for the services).
//
//   node --import tsx bench/scaling.ts [--cores 1,2] [--seconds 2] [--runs 3] [--concurrency 16] [--only inference] [--env K=V ...] [--out bench/results/scaling/run.json]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machineInfo } from './machine.ts';
import { measureScaling, scalingSkipReason, scalingWorkloads } from './scaling-suite.ts';

const { values } = parseArgs({
  options: {
    cores: { type: 'string', default: '1,2' },
    seconds: { type: 'string', default: '2' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
    // Some workloads only (matched against their labels), and settings for the services.
    only: { type: 'string' },
    env: { type: 'string', multiple: true, default: [] },
    out: { type: 'string', default: join(import.meta.dirname, 'results', 'scaling', 'run.json') },
  },
});
const skip = scalingSkipReason();
if (skip) {
  console.error(`bench/scaling.ts: ${skip}`);
  process.exit(1);
}
const concurrency = Number(values.concurrency);
const machine = machineInfo();
const workloads = (await scalingWorkloads(join(import.meta.dirname, 'work'))).filter((w) => !values.only || w.label.includes(values.only));
const result = await measureScaling({
  coreCounts: values.cores!.split(',').map(Number),
  concurrency,
  budget: { seconds: Number(values.seconds), warmup: concurrency, runs: Number(values.runs) },
  workloads,
  env: Object.fromEntries(values.env!.map((pair) => pair.split(/=(.*)/s).slice(0, 2) as [string, string])),
  log: (line) => process.stderr.write(`${line}\n`),
});
const file = { when: new Date().toISOString(), machine, ...result };
console.log(JSON.stringify(file, null, 2));
writeFileSync(values.out!, `${JSON.stringify(file, null, 2)}\n`);
