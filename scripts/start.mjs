#!/usr/bin/env node
// `npm start`: runs both services as child processes and forwards SIGTERM/SIGINT to them, so a
// process manager stopping this launcher stops both gracefully. If one service exits on its
// own, the other is stopped too and the launcher exits with the first failure's status.
import { spawn } from 'node:child_process';

const services = (process.argv[2] ?? 'augment,inference').split(',');
// `npm start` runs the compiled build (dist/, made by `npm run build`); `npm run dev` the TypeScript sources through tsx.
const entry = (name) => (process.env.AUGSERVE_SOURCES === '1' ? ['--import', 'tsx', `services/${name}/server.ts`] : [`dist/services/${name}/server.js`]);
const children = services.map((name) =>
  spawn(process.execPath, entry(name), { stdio: 'inherit', env: process.env }),
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
