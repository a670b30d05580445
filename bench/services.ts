import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { serviceEnv } from '../services/shared/parallelism.mjs';
import { freePort } from '../test/helpers/ports.ts';

/** Children still running, killed if the bench itself is stopped (Ctrl-C, timeout). */
const children = new Set<ChildProcess>();
let handlersInstalled = false;
function reapOnExit(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of children) child.kill('SIGKILL');
      process.exit(130);
    });
  }
}

export interface RunningService {
  name: string;
  url: string;
  child: ChildProcess;
  /** The service's stderr/stdout tail, for the error message when it dies. */
  output(): string;
  stop(): Promise<void>;
}

export interface ServiceOptions {
  name: 'augment' | 'inference';
  env?: Record<string, string>;
  /** Extra node flags, e.g. --cpu-prof for the profiling run. */
  nodeFlags?: string[];
  /** A command that execs node in its place, e.g. `['taskset', '-c', '0']` to pin the service to core 0. */
  wrap?: string[];
  readyTimeoutMs?: number;
}

/**
 * Where the services are started from: the working tree by default, or a snapshot of a commit
 * (`npm run bench -- --snapshot`), so that uncommitted edits elsewhere in a shared tree do not end
 * up in (or break) the figures.
 */
let serviceRoot = process.cwd();
export function setServiceRoot(root: string): void {
  serviceRoot = root;
}

/**
 * Starts `services/<name>/server.ts` as a child process on 127.0.0.1 and a free port (with the
 * environment `npm start` gives it), and waits
 * until /health/ready answers 200. Request logs are off (LOG_LEVEL=warn) so that the service's
 * pino output is not part of what is measured.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const port = await freePort();
  const portVar = options.name === 'augment' ? 'AUGMENT_PORT' : 'INFERENCE_PORT';
  const nodeArgs = [...(options.nodeFlags ?? []), '--import', 'tsx', `services/${options.name}/server.ts`];
  const [command, ...args] = [...(options.wrap ?? []), process.execPath, ...nodeArgs] as [string, ...string[]];
  const child = spawn(command, args, {
    // As `npm start` starts it: libuv's pool from the cores (unless the environment sets it).
    env: serviceEnv(options.name, { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'warn', INFERENCE_GRPC_PORT: '0', [portVar]: String(port), ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: serviceRoot,
  });
  reapOnExit();
  children.add(child);
  child.once('exit', () => children.delete(child));
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  for (;;) {
    if (exited) throw new Error(`${options.name} exited before it was ready:\n${tail}`);
    try {
      const res = await fetch(`${url}/health/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} was not ready within ${options.readyTimeoutMs ?? 120_000} ms:\n${tail}`);
    }
    await sleep(100);
  }
  return {
    name: options.name,
    url,
    child,
    output: () => tail,
    async stop() {
      if (exited) return;
      const gone = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await gone;
      clearTimeout(timer);
    },
  };
}
