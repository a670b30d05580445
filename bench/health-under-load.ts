// One measurement of the health probes under issue 16's load (bench/health-suite.ts), with any
// settings: the `health` suite of `npm run bench` runs the defaults twice and writes the table in
// docs/BENCHMARKS.md; this script is for trying variants (a retry storm, a setting, another
// checkout's services for a before/after on the same machine in the same hour).
//
//   node --import tsx bench/health-under-load.ts [--clients 16] [--images 64] [--seconds 20] [--max-requests 2000]
//     [--idle-seconds 5] [--input gray28|photo] [--env K=V ...] [--ignore-retry-after] [--service-root DIR]
//
// Prints the figures and writes bench/results/health/run.json (--out to name it).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ISSUE_LOAD, measureHealthUnderLoad, startHealthTarget } from './health-suite.ts';
import { INFERENCE_INPUTS, inferenceInput } from './inputs.ts';
import { machineInfo } from './machine.ts';
import { setServiceRoot } from './services.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: String(ISSUE_LOAD.clients) },
    images: { type: 'string', default: String(ISSUE_LOAD.imagesPerRequest) },
    seconds: { type: 'string', default: String(ISSUE_LOAD.seconds) },
    'max-requests': { type: 'string', default: String(ISSUE_LOAD.maxRequests) },
    'idle-seconds': { type: 'string', default: String(ISSUE_LOAD.idleSeconds) },
    input: { type: 'string', default: 'gray28' },
    env: { type: 'string', multiple: true, default: [] },
    'ignore-retry-after': { type: 'boolean', default: false },
    // Another checkout's services (for a before/after comparison on the same machine, same hour).
    'service-root': { type: 'string' },
    out: { type: 'string', default: join(import.meta.dirname, 'results', 'health', 'run.json') },
  },
});
const load = {
  ...ISSUE_LOAD,
  clients: Number(values.clients),
  imagesPerRequest: Number(values.images),
  seconds: Number(values.seconds),
  maxRequests: Number(values['max-requests']),
  idleSeconds: Number(values['idle-seconds']),
  honourRetryAfter: !values['ignore-retry-after'],
};
const extraEnv = Object.fromEntries(values.env!.map((pair) => pair.split(/=(.*)/s).slice(0, 2) as [string, string]));

if (values['service-root']) setServiceRoot(values['service-root']);
const input = await inferenceInput(INFERENCE_INPUTS[values.input as keyof typeof INFERENCE_INPUTS], join(import.meta.dirname, 'work', 'inputs'));
const machine = machineInfo();
const service = await startHealthTarget(extraEnv);
try {
  const run = await measureHealthUnderLoad(service.url, input, load);
  const result = { when: new Date().toISOString(), machine, setup: { ...load, tta: true, input: input.name, env: extraEnv }, ...run };
  console.log(JSON.stringify(result, null, 2));
  writeFileSync(values.out!, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await service.stop();
}
