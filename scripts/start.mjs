#!/usr/bin/env node
// `npm start`: runs both services as child processes and forwards SIGTERM/SIGINT to them, so a
// process manager stopping this launcher stops both gracefully. If one service exits on its
// own, the other is stopped too and the launcher exits with the first failure's status.
//
// Each child gets UV_THREADPOOL_SIZE from the cores (services/shared/parallelism.mjs) unless it is
// set already: libuv reads it once, when its pool first starts, so the service cannot set it itself.
import { spawn } from 'node:child_process';
import { serviceEnv } from '../services/shared/parallelism.mjs';

const services = (process.argv[2] ?? 'augment,inference').split(',');
let envs;
try {
  envs = services.map((name) => serviceEnv(name, process.env));
} catch (error) {
  console.error(error.message);
  process.exit(78); // EX_CONFIG, as the services exit on a bad setting
}
// `npm start` runs the compiled build (dist/, made by `npm run build`); `npm run dev` the TypeScript sources through tsx.
const entry = (name) => (process.env.AUGSERVE_SOURCES === '1' ? ['--import', 'tsx', `services/${name}/server.ts`] : [`dist/services/${name}/server.js`]);
const children = services.map((name, i) =>
  spawn(process.execPath, entry(name), { stdio: 'inherit', env: envs[i] }),
);

let exitCode = 0;
let remaining = children.length;
let stopping = false;

function stopAll(signal) {
  stopping = true;
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => stopAll(signal === 'SIGHUP' ? 'SIGTERM' : signal));

children.forEach((child, i) => {
  child.on('exit', (code, signal) => {
    remaining--;
    if (code !== 0 && !(stopping && (code === null || signal))) {
      console.error(`${services[i]} exited with ${code ?? signal}`);
      exitCode ||= code ?? 1;
    }
    if (!stopping) stopAll('SIGTERM');
    if (remaining === 0) process.exit(exitCode);
  });
});
