/**
 * `npm run bench` — the services against their limits and against Python, side by side.
 *
 *   npm run bench                      full run: every suite, results in bench/results, tables in docs/BENCHMARKS.md
 *   npm run bench -- --quick           tiny run (BENCH_QUICK=1 too), results in bench/work/quick, docs untouched
 *   npm run bench -- --suite augment   one suite (augment | inference | shard | health | scaling)
 *   npm run bench -- --out DIR         results elsewhere; --no-docs leaves docs/BENCHMARKS.md alone
 *   npm run bench -- --suite augment --ops flip --concurrencies 32 --python none --out DIR --no-docs   a part run
 *
 * Services run as child processes on 127.0.0.1 and random free ports and are driven with
 * autocannon over loopback; baselines run in this process (sharp, onnxruntime-node) or in
 * /usr/bin/python3 (Pillow, OpenCV, torchvision, PyTorch), on the same inputs in the same run.
 * Every figure is the median of several runs after a warm-up.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runAugmentSuite } from './augment-suite.ts';
import { healthMarkdown, healthTargets, ISSUE_LOAD, runHealthSuite, type HealthFile } from './health-suite.ts';
import { runInferenceSuite, FASHION_MODELS } from './inference-suite.ts';
import { runShardSuite } from './shard-suite.ts';
import { AUGMENT_INPUTS } from './inputs.ts';
import { gitCommit, machineInfo, nodeVersions } from './machine.ts';
import { setServiceRoot } from './services.ts';
import {
  augmentChart,
  augmentMarkdown,
  inferenceChart,
  inferenceMarkdown,
  targetsMarkdown,
  type AugmentFile,
  type InferenceFile,
  shardMarkdown,
  type ResultsFile,
  type ShardFile,
} from './report.ts';
import { measureScaling, scalingMarkdown, scalingSkipReason, scalingWorkloads, type ScalingFile } from './scaling-suite.ts';
import { augmentTargets, inferenceTargets, modelRatios, shardTargets } from './targets.ts';

const ROOT = resolve(import.meta.dirname, '..');
process.chdir(ROOT);

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true' },
    suite: { type: 'string', multiple: true },
    out: { type: 'string' },
    'no-docs': { type: 'boolean', default: false },
    ops: { type: 'string' },
    // Part runs (the figures quoted beside the generated tables): some concurrencies, some or no Python stacks.
    concurrencies: { type: 'string' },
    python: { type: 'string' },
    models: { type: 'string' },
    snapshot: { type: 'string' },
  },
});
const quick = values.quick!;
const suites = values.suite?.length ? values.suite : ['augment', 'inference', 'shard', 'health', 'scaling'];
const outDir = resolve(values.out ?? (quick ? 'bench/work/quick' : 'bench/results'));
const workDir = resolve('bench/work');
const writeDocs = !quick && !values['no-docs'] && values.out === undefined;
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;

const started = performance.now();
const log = (line: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
const serviceRoot = values.snapshot !== undefined ? snapshot(values.snapshot || 'HEAD') : ROOT;
setServiceRoot(serviceRoot);

function base<T>(suite: ResultsFile<T>['suite'], settings: Record<string, unknown>, data: T) {
  return {
    suite,
    generated_at: new Date().toISOString(),
    command,
    quick,
    commit: gitCommit(),
    machine: machineInfo(),
    versions: nodeVersions() as Record<string, unknown>,
    settings,
    data,
    targets: [],
  };
}

await mkdir(outDir, { recursive: true });
const written: string[] = [];

if (suites.includes('augment')) {
  const settings = quick
    ? {
        budget: { seconds: 0, amount: 6, warmup: 2, runs: 1 },
        concurrencies: [1, 4],
        pythonBudget: { seconds: 0, amount: 1, warmup: 0, runs: 1 },
        // torchvision too: it is the only Python stack with ColorJitter and the policies.
        pythonStacks: ['pillow', 'opencv', 'torchvision'],
        inputs: AUGMENT_INPUTS.slice(0, 1),
      }
    : {
        budget: { seconds: 2, warmup: 6, runs: 3 },
        concurrencies: [1, 8, 32],
        pythonBudget: { seconds: 2, warmup: 2, runs: 3 },
        pythonStacks: ['pillow', 'opencv', 'torchvision'],
        inputs: AUGMENT_INPUTS,
      };
  if (values.concurrencies) settings.concurrencies = values.concurrencies.split(',').map(Number);
  if (values.python) settings.pythonStacks = values.python === 'none' ? [] : values.python.split(',');
  log(`augment suite (${quick ? 'quick' : 'full'})`);
  const data = await runAugmentSuite({ quick, workDir, log, ops: values.ops?.split(','), ...settings });
  const file: AugmentFile = { ...base('augment', { ...settings, inputs: settings.inputs.map((i) => i.name), service_env: { LOG_LEVEL: 'warn', SHARP_CONCURRENCY: '1 (default)' } }, data), targets: augmentTargets(data.ratios) };
  file.versions = { ...file.versions, python: data.python_versions };
  await writeFile(join(outDir, 'augment.json'), JSON.stringify(file, null, 1) + '\n');
  await writeFile(join(outDir, 'augment.svg'), augmentChart(file));
  written.push(join(outDir, 'augment.json'), join(outDir, 'augment.svg'));
}

if (suites.includes('inference') && !existsSync(join(serviceRoot, 'services/inference/server.ts'))) {
  log('inference suite skipped: services/inference/server.ts is not there yet');
} else if (suites.includes('inference')) {
  const models = values.models?.split(',') ?? (quick ? ['resnet'] : [...FASHION_MODELS]);
  const settings = quick
    ? {
        budget: { seconds: 0, amount: 8, warmup: 2, runs: 1 },
        secondsPerRun: 0,
        concurrencies: [1, 4],
        multiConcurrencies: [1],
        imagesPerRequest: 16,
        batches: [1, 8],
        torchBudget: { seconds: 0, amount: 1, warmup: 0, runs: 1 },
        batchingModes: [true],
        models,
        withResnet18: false,
        withEnsemble: false,
      }
    : {
        budget: { seconds: 2, warmup: 3, runs: 3 },
        secondsPerRun: 2.5,
        concurrencies: [1, 8, 32, 128],
        multiConcurrencies: [1, 8],
        imagesPerRequest: 16,
        batches: [1, 8, 32],
        torchBudget: { seconds: 2, warmup: 1, runs: 3 },
        batchingModes: [true, false],
        models,
        withResnet18: values.models === undefined || models.includes('resnet18'),
        withEnsemble: values.models === undefined,
      };
  settings.models = settings.models.filter((m) => m !== 'resnet18');
  log(`inference suite (${quick ? 'quick' : 'full'})`);
  const data = await runInferenceSuite({ quick, workDir, log, ...settings });
  const ratios = modelRatios(data, settings.imagesPerRequest);
  const file: InferenceFile = { ...base('inference', settings, { ...data, ratios }), targets: inferenceTargets(ratios) };
  file.versions = { ...file.versions, torch_threads: data.torch_threads };
  await writeFile(join(outDir, 'inference.json'), JSON.stringify(file, null, 1) + '\n');
  await writeFile(join(outDir, 'inference.svg'), inferenceChart(file));
  written.push(join(outDir, 'inference.json'), join(outDir, 'inference.svg'));
}

if (suites.includes('shard')) {
  // Full: about 3 minutes here. The 2 GiB RSS shard runs for many minutes: bench/shard.ts alone.
  const settings = quick
    ? { samples: 24, runs: 1, replicaSamples: 12, rssMiB: [] as number[], pythonVariants: ['same-ops', 'same-ops-jpeg'] }
    : { samples: 1000, runs: 3, replicaSamples: 500, rssMiB: [128], pythonVariants: ['defaults', 'same-ops', 'same-ops-jpeg'] };
  if (values.python === 'none') settings.pythonVariants = [];
  log(`shard suite (${quick ? 'quick' : 'full'})`);
  const machine = machineInfo(); // the load average before this suite's own load
  const data = await runShardSuite({ ...settings, workDir, log });
  const file: ShardFile = { ...base('shard', settings, data), machine, targets: shardTargets(data.ratios, data.recipe?.ratios) };
  file.versions = { ...file.versions, python: data.python_versions };
  await writeFile(join(outDir, 'shard.json'), JSON.stringify(file, null, 1) + '\n');
  written.push(join(outDir, 'shard.json'));
}

if (suites.includes('health') && !existsSync(join(serviceRoot, 'services/inference/server.ts'))) {
  log('health suite skipped: services/inference/server.ts is not there yet');
} else if (suites.includes('health')) {
  // Quick: a few small requests, one short run, so the code path runs in a few seconds.
  const settings = quick
    ? { load: { ...ISSUE_LOAD, clients: 2, imagesPerRequest: 4, seconds: 0.5, idleSeconds: 0.3 }, runs: 1, input: 'gray28' as const }
    : { load: ISSUE_LOAD, runs: 2, input: 'gray28' as const };
  log(`health suite (${quick ? 'quick' : 'full'})`);
  // The machine (its load average) as the suite starts, not as it ends.
  const machine = machineInfo();
  const data = await runHealthSuite({ ...settings, workDir, log });
  const file: HealthFile = { ...base('health', settings, data), machine, targets: healthTargets(data) };
  await writeFile(join(outDir, 'health.json'), JSON.stringify(file, null, 1) + '\n');
  written.push(join(outDir, 'health.json'));
}

const scalingSkip = suites.includes('scaling') ? scalingSkipReason() : undefined;
if (scalingSkip) {
  log(`scaling suite skipped: ${scalingSkip}`);
} else if (suites.includes('scaling')) {
  // Quick: one augment workload on one core, a few requests, one run: the code path in a few seconds.
  const settings = quick
    ? { coreCounts: [1], concurrency: 2, budget: { seconds: 0, amount: 4, warmup: 0, runs: 1 }, workloads: 'augment flip' }
    : { coreCounts: [1, 2], concurrency: 16, budget: { seconds: 2, warmup: 16, runs: 3 }, workloads: 'all' };
  log(`scaling suite (${quick ? 'quick' : 'full'})`);
  const machine = machineInfo();
  const workloads = (await scalingWorkloads(workDir)).filter((w) => settings.workloads === 'all' || w.label.startsWith(settings.workloads));
  const data = await measureScaling({ ...settings, workloads, log });
  const file: ScalingFile = { ...base('scaling', settings, data), machine };
  await writeFile(join(outDir, 'scaling.json'), JSON.stringify(file, null, 1) + '\n');
  written.push(join(outDir, 'scaling.json'));
}

if (writeDocs) {
  await writeBenchmarksDoc(outDir);
  written.push('docs/BENCHMARKS.md');
}
if (serviceRoot !== ROOT) rmSync(serviceRoot, { recursive: true, force: true });
log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s: ${written.map((p) => p.replace(`${ROOT}/`, '')).join(', ')}`);

/**
 * `services/` (and what it reads at run time) of a commit, unpacked into a temporary folder with
 * the tree's node_modules linked in; returns the folder to start the services from. Not under
 * bench/: `npm run check` type-checks that, and a second copy of the services would clash.
 */
function snapshot(ref: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'augserve-bench-services-'));
  const archive = spawnSync('git', ['archive', '--format=tar', ref, 'services', 'openapi.yaml', 'package.json', 'tsconfig.json'], { maxBuffer: 1 << 28 });
  if (archive.status !== 0) throw new Error(`git archive ${ref} failed: ${archive.stderr}`);
  const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr}`);
  symlinkSync(resolve('node_modules'), join(dir, 'node_modules'));
  log(`services from ${ref} (${gitCommit()}) unpacked into ${dir}`);
  return dir;
}

/**
 * Regenerates the part of docs/BENCHMARKS.md between the `generated` markers from every results
 * file present, so a run of one suite keeps the other's last table. Text outside the markers
 * (method, profile findings) is written by hand and kept.
 */
async function writeBenchmarksDoc(dir: string): Promise<void> {
  const path = 'docs/BENCHMARKS.md';
  const START = '<!-- generated:start (npm run bench rewrites this part) -->';
  const END = '<!-- generated:end -->';
  const parts: string[] = [];
  const targets = [];
  const read = async <T>(name: string) => JSON.parse(await readFile(join(dir, name), 'utf8').catch(() => 'null')) as T | null;
  const augment = await read<AugmentFile>('augment.json');
  const inference = await read<InferenceFile>('inference.json');
  const health = await read<HealthFile>('health.json');
  const scaling = await read<ScalingFile>('scaling.json');
  if (augment) {
    parts.push(augmentMarkdown(augment), '![Augmentation throughput against concurrency](../bench/results/augment.svg)', '');
    targets.push(...augment.targets);
  }
  if (inference) {
    parts.push(inferenceMarkdown(inference), '![Inference throughput against concurrency](../bench/results/inference.svg)', '');
    targets.push(...inference.targets);
  }
  const shard = await read<ShardFile>('shard.json');
  if (shard) {
    parts.push(shardMarkdown(shard));
    targets.push(...shard.targets);
  }
  if (health) {
    parts.push(healthMarkdown(health));
    targets.push(...health.targets);
  }
  if (scaling) parts.push(scalingMarkdown(scaling));
  parts.push('### Targets', '', targetsMarkdown(targets));
  const generated = `${START}\n\n${parts.join('\n')}\n${END}`;
  const current = await readFile(path, 'utf8').catch(() => '');
  const next = current.includes(START) && current.includes(END)
    ? current.slice(0, current.indexOf(START)) + generated + current.slice(current.indexOf(END) + END.length)
    : `# Benchmarks\n\n${generated}\n`;
  await writeFile(path, next);
}
