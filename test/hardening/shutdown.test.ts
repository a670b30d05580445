import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { freePort } from '../helpers/ports.ts';

/**
 * SIGTERM with requests in flight, against real processes: `node --import tsx
 * services/augment/server.ts` and the `npm start` launcher (scripts/start.mjs). Every accepted
 * request, including uploads still arriving, gets its normal 200; new connections are refused;
 * the process exits within SHUTDOWN_GRACE_MS.
 */
// Far longer than the in-flight work takes on any machine: exiting with 0 before it is the claim,
// and a slow machine only moves the exit later within it.
const GRACE_MS = 20_000;
/** How long a new connection may still be accepted after SIGTERM: only a guard against never. */
const REFUSED_WITHIN_MS = 20_000;
const root = new URL('../../', import.meta.url);


/** What differs between the two services in this test. */
interface Target {
  portVariable: string;
  env: Record<string, string>;
  /** Probe that says the service can take the requests below. */
  ready: string;
  path: string;
  /** Text fields of the heavy and of the slow requests. */
  fields: Record<string, string>;
}

const AUGMENT: Target = { portVariable: 'AUGMENT_PORT', env: {}, ready: '/health/live', path: '/v1/augment/rotate', fields: { angle: '10' } };
const INFERENCE: Target = {
  portVariable: 'INFERENCE_PORT',
  env: { MODEL_REPOSITORY: fileURLToPath(new URL('test/fixtures/models/', root)), EXECUTION_PROVIDERS: 'cpu', INFERENCE_WORKERS: '1' },
  ready: '/health/ready',
  path: '/v1/models/tiny-rgb/classify',
  fields: {},
};

function start(args: string[], port: number, target: Target): ChildProcess {
  return spawn(process.execPath, args, {
    cwd: root,
    detached: true, // its own process group, so a group signal reaches it and its children only
    stdio: ['ignore', 'ignore', 'pipe'],
    // AUGSERVE_SOURCES: the launcher runs the sources (as `npm run dev` does), so these tests need
    // no build; test/deploy/compiled.test.ts stops the compiled `npm start`.
    env: { ...process.env, [target.portVariable]: String(port), SHUTDOWN_GRACE_MS: String(GRACE_MS), LOG_LEVEL: 'warn', MAX_CONCURRENT_REQUESTS: '64', AUGSERVE_SOURCES: '1', ...target.env },
  });
}

async function waitUntilLive(port: number, child: ChildProcess, probe: string): Promise<void> {
  const deadline = Date.now() + 120_000; // a start-up on a busy machine, not a claim about speed
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}${probe}`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('never became live');
}

const boundary = '----shutdown';
function multipart(image: Buffer, fields: Record<string, string>): Buffer {
  return Buffer.concat([
    ...Object.entries(fields).map(([name, value]) => Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`)),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`),
    image,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}

interface InFlight {
  /** Resolves once the service has parsed the request's headers (it sent 100 Continue). */
  accepted: Promise<void>;
  answer: Promise<{ status?: number; error?: string }>;
}

/**
 * One request over a raw socket with `Expect: 100-continue`: Node answers 100 as it hands the
 * request to the app, which is the proof that the request was accepted before the signal. The
 * body follows; with `release`, only half of it until `release` resolves (a slow upload).
 */
function request(port: number, path: string, body: Buffer, release?: Promise<unknown>): InFlight {
  let markAccepted!: () => void;
  const accepted = new Promise<void>((resolve) => (markAccepted = resolve));
  const answer = new Promise<{ status?: number; error?: string }>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let response = '';
    let sending = false;
    socket.on('data', async (data) => {
      response += data.toString('latin1');
      if (sending || !response.startsWith('HTTP/1.1 100 ')) return;
      sending = true;
      markAccepted();
      if (!release) return void socket.write(body);
      socket.write(body.subarray(0, body.length >> 1));
      await release;
      // The rest trickles in over a few hundred milliseconds, well after the signal.
      const rest = body.subarray(body.length >> 1);
      const step = Math.ceil(rest.length / 8);
      for (let i = 0; i < rest.length && !socket.destroyed; i += step) {
        socket.write(rest.subarray(i, i + step));
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    socket.on('error', (error) => resolve({ error: error.message }));
    socket.on('close', () => {
      const statuses = [...response.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1])).filter((status) => status !== 100);
      resolve(statuses.length ? { status: statuses.at(-1)! } : { error: `closed without an answer: ${JSON.stringify(response.slice(0, 120))}` });
    });
    socket.on('connect', () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nExpect: 100-continue\r\n` +
          `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
    });
  });
  return { accepted, answer };
}

function refusedOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** Milliseconds until a new connection is refused (undefined: still accepted after `withinMs`). */
async function refusedAfter(port: number, withinMs: number): Promise<number | undefined> {
  const started = performance.now();
  while (performance.now() - started < withinMs) {
    if (await refusedOnce(port)) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return undefined;
}

/** Run the scenario; `signal` sends SIGTERM the way the case wants. */
async function scenario(args: string[], signal: (child: ChildProcess) => void, target: Target = AUGMENT) {
  const port = await freePort();
  const child = start(args, port, target);
  let stderr = '';
  child.stderr!.on('data', (data) => (stderr += data));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.on('exit', (code) => resolve({ code, at: performance.now() })));
  try {
    await waitUntilLive(port, child, target.ready);
    const heavy = await sharp({ create: { width: 1000, height: 750, channels: 3, background: '#456' } }).png({ compressionLevel: 1 }).toBuffer();
    const small = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#654' } }).png().toBuffer();
    let releaseUploads!: () => void;
    const uploadsMayFinish = new Promise<void>((resolve) => (releaseUploads = resolve));
    const requests = [
      ...Array.from({ length: 4 }, () => request(port, target.path, multipart(heavy, target.fields))),
      ...Array.from({ length: 3 }, () => request(port, target.path, multipart(small, target.fields), uploadsMayFinish)),
    ];
    await Promise.all(requests.map((r) => r.accepted));
    const signalled = performance.now();
    signal(child);
    const refusedAfterMs = await refusedAfter(port, REFUSED_WITHIN_MS);
    releaseUploads();
    const answers = await Promise.all(requests.map((r) => r.answer));
    const { code, at } = await exited;
    return { answers, refusedAfterMs, code, exitAfterMs: at - signalled, stderr };
  } finally {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  }
}

function assertGraceful(result: Awaited<ReturnType<typeof scenario>>) {
  assert.deepEqual(result.answers, result.answers.map(() => ({ status: 200 })), result.stderr);
  assert.ok(result.refusedAfterMs !== undefined, `new connections were still accepted ${REFUSED_WITHIN_MS} ms after SIGTERM`);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(result.exitAfterMs < GRACE_MS, `exited ${result.exitAfterMs.toFixed(0)} ms after SIGTERM`);
}

function report(t: { diagnostic(message: string): void }, result: Awaited<ReturnType<typeof scenario>>) {
  const refusedAt = result.refusedAfterMs === undefined ? 'never' : `${result.refusedAfterMs.toFixed(0)} ms`;
  t.diagnostic(`answers ${result.answers.map((a) => a.status ?? a.error).join(', ')}; new connections refused after ${refusedAt}; exit ${result.code} after ${result.exitAfterMs.toFixed(0)} ms`);
}

describe('graceful shutdown on SIGTERM with requests in flight', { timeout: 300_000 }, () => {
  test('server.ts: SIGTERM to its process group', async (t) => {
    const result = await scenario(['--import', 'tsx', 'services/augment/server.ts'], (child) => process.kill(-child.pid!, 'SIGTERM'));
    report(t, result);
    assertGraceful(result);
  });

  test('npm start launcher: SIGTERM to the launcher is forwarded to the service', async (t) => {
    const result = await scenario(['scripts/start.mjs', 'augment'], (child) => child.kill('SIGTERM'));
    report(t, result);
    assertGraceful(result);
  });

  // What a terminal's Ctrl-C or systemd's control-group kill does: launcher and service both get
  // the signal, and the launcher forwards its copy, so the service sees it twice.
  test('npm start launcher: SIGTERM to the whole group (the service gets it twice)', async (t) => {
    const result = await scenario(['scripts/start.mjs', 'augment'], (child) => process.kill(-child.pid!, 'SIGTERM'));
    report(t, result);
    assertGraceful(result);
  });

  test('a second stop signal after the repeat window still forces the exit', async () => {
    const port = await freePort();
    const child = start(['--import', 'tsx', 'services/augment/server.ts'], port, AUGMENT);
    const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.on('exit', (code) => resolve({ code, at: performance.now() })));
    try {
      await waitUntilLive(port, child, AUGMENT.ready);
      const small = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#654' } }).png().toBuffer();
      const stuck = request(port, AUGMENT.path, multipart(small, AUGMENT.fields), new Promise(() => {})); // never finishes uploading
      await stuck.accepted;
      process.kill(-child.pid!, 'SIGTERM');
      // Twice the service's 2 s repeat window, so the next signal cannot count as the same one.
      await new Promise((resolve) => setTimeout(resolve, 4000));
      assert.equal(child.exitCode, null, 'exited before the grace period with a request in flight');
      const second = performance.now();
      process.kill(-child.pid!, 'SIGTERM');
      const { code, at } = await exited;
      assert.equal(code, 1);
      // Had the second signal been ignored, the exit would come with the grace period, 16 s later.
      assert.ok(at - second < GRACE_MS / 2, `exited ${(at - second).toFixed(0)} ms after the second signal`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    }
  });

  test('inference server.ts: SIGTERM to its process group', { skip: existsSync(new URL('services/inference/server.ts', root)) ? false : 'no inference server yet' }, async (t) => {
    const result = await scenario(['--import', 'tsx', 'services/inference/server.ts'], (child) => process.kill(-child.pid!, 'SIGTERM'), INFERENCE);
    report(t, result);
    assertGraceful(result);
  });
});
