#!/usr/bin/env node
// Start-up time and idle memory of each service, from the TypeScript sources through tsx and
// from the compiled build (`npm run build` first): the figures in the README.
//   node scripts/measure-start.mjs [runs]
// Each run starts one service alone, times spawn -> first 200 from /health/ready (inference:
// every model loaded and warmed up), waits for it to settle, reads its resident set size
// (VmRSS, worker threads included), and stops it. The median and range of the runs are printed.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const runs = Number(process.argv[2] ?? 5);
const SETTLE_MS = 5000;
const modes = {
  tsx: (name) => ['--import', 'tsx', `services/${name}/server.ts`],
  dist: (name) => [`dist/services/${name}/server.js`],
};
const ports = { augment: ['AUGMENT_PORT', 39301], inference: ['INFERENCE_PORT', 39302] };

async function once(mode, name) {
  const [portVar, port] = ports[name];
  const started = performance.now();
  const child = spawn(process.execPath, modes[mode](name), { stdio: 'ignore', env: { ...process.env, [portVar]: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' } });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let readyMs;
  while (readyMs === undefined) {
    if (child.exitCode !== null) throw new Error(`${name} (${mode}) exited with ${child.exitCode}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok, () => false);
    if (ok) readyMs = performance.now() - started;
    else await sleep(10);
  }
  await sleep(SETTLE_MS);
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]);
  child.kill('SIGTERM');
  await exited;
  return { readyMs, rssMiB: rssKiB / 1024 };
}

const sorted = (values) => [...values].sort((a, b) => a - b);
const summary = (values, digits) => {
  const s = sorted(values);
  return `${s[Math.floor(s.length / 2)].toFixed(digits)} (${s[0].toFixed(digits)}-${s.at(-1).toFixed(digits)})`;
};
console.log(`node ${process.version}, ${runs} runs each (the two modes alternate, so that a busy host weighs on both), median (min-max); RSS ${SETTLE_MS / 1000} s after ready`);
console.log('| Service | Runs from | Start to /health/ready, ms | Idle RSS, MiB |');
console.log('|---|---|---|---|');
for (const name of ['augment', 'inference']) {
  const results = Object.fromEntries(Object.keys(modes).map((mode) => [mode, []]));
  for (let i = 0; i < runs; i++) for (const mode of Object.keys(modes)) results[mode].push(await once(mode, name));
  for (const [mode, list] of Object.entries(results)) {
    console.log(`| ${name} | ${mode === 'tsx' ? 'sources (tsx)' : 'dist/ (compiled)'} | ${summary(list.map((r) => r.readyMs), 0)} | ${summary(list.map((r) => r.rssMiB), 1)} |`);
  }
}
