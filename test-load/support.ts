/**
 * What the load tests share: a real augment server in its own process, a typical request body,
 * RSS of that process, and autocannon with per-response bookkeeping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { freePort } from '../test/helpers/ports.ts';
// @ts-expect-error autocannon ships no types (test-load is outside tsconfig's include anyway)
import autocannon from 'autocannon';
import sharp from 'sharp';

export interface Server {
  port: number;
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}


/** `node --import tsx services/augment/server.ts` on a free loopback port, live before this returns. */
export async function startAugment(env: Record<string, string> = {}): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/augment/server.ts'], {
    cwd: new URL('../', import.meta.url),
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, AUGMENT_PORT: String(port), LOG_LEVEL: 'warn', ...env },
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`augment exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('augment never became live');
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health/live`)).ok) break;
    } catch {
      // not yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    pid: child.pid!,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Resident set size of a process, from /proc (Linux), in bytes. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (!kib) throw new Error(`no VmRSS for ${pid}`);
  return Number(kib) * 1024;
}

const boundary = '----load';
/** A typical request: a 320×240 photo-like JPEG, rotated by 15° (decode, one sharp op, encode). */
export async function rotateRequest(): Promise<{ path: string; headers: Record<string, string>; body: Buffer }> {
  const width = 320;
  const height = 240;
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i += 3) {
    const x = (i / 3) % width;
    const y = Math.floor(i / 3 / width);
    data[i] = (x * 255) / width;
    data[i + 1] = (y * 255) / height;
    data[i + 2] = (x * 7 + y * 13) % 256;
  }
  const image = await sharp(data, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="angle"\r\n\r\n15\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
    image,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { path: '/v1/augment/rotate', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body };
}

export interface LoadResult {
  /** autocannon's own summary. */
  summary: {
    errors: number;
    timeouts: number;
    requests: { total: number; average: number };
    latency: { p50: number; p99: number; mean: number; max: number };
    statusCodeStats: Record<string, { count: number }>;
    [key: string]: unknown;
  };
  /** Response times (ms) by status code. */
  latencies: Map<number, number[]>;
  /** 503 answers that lacked a Retry-After header. */
  without503RetryAfter: number;
  /** Answers received (any status). */
  answered: number;
}

/** Run autocannon against `port`: `connections` sockets, at most `rate` requests/s overall when given. */
export async function load(port: number, options: { connections: number; duration: number; rate?: number }): Promise<LoadResult> {
  const request = await rotateRequest();
  const latencies = new Map<number, number[]>();
  let without503RetryAfter = 0;
  let answered = 0;
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: options.connections,
    duration: options.duration,
    ...(options.rate ? { overallRate: options.rate } : {}),
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: request.path,
        headers: request.headers,
        body: request.body,
        onResponse: (status: number, _body: string, _context: unknown, headers: Record<string, string>) => {
          if (status === 503 && !headers['retry-after']) without503RetryAfter++;
        },
      },
    ],
  });
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    answered++;
    const list = latencies.get(statusCode) ?? [];
    list.push(responseTime);
    latencies.set(statusCode, list);
  });
  const summary = (await instance) as LoadResult['summary'];
  return { summary, latencies, without503RetryAfter, answered };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

/** Closed-loop capacity (2 connections per core, after a warm-up) and the sustainable rate, ¾ of it. */
export async function sustainableRate(port: number, cores: number): Promise<{ capacity: number; sustainable: number }> {
  await load(port, { connections: cores, duration: 3 });
  const capacity = (await load(port, { connections: 2 * cores, duration: 10 })).summary.requests.average;
  return { capacity, sustainable: Math.max(1, Math.floor(capacity * 0.75)) };
}

/** Least-squares slope of (t, y) points, in y units per t unit. */
export function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const mt = points.reduce((s, [t]) => s + t, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [t, y]) => s + (t - mt) * (y - my), 0);
  const den = points.reduce((s, [t]) => s + (t - mt) ** 2, 0);
  return den === 0 ? 0 : num / den;
}
