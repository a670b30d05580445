import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import autocannon from 'autocannon';
import { poolRun, type Budget } from './pool.ts';
import type { Run } from './stats.ts';

/**
 * autocannon keeps each answer's body as a string (`body += chunk`: a UTF-8 decode and a copy of
 * every byte received), which only its `expectBody`/`verifyBody` options read. For 300-400 KB
 * image answers that costs the client 10-15 ms of CPU per answer, on the cores the service is
 * measured on. The bench sets neither option (outputs are checked once, separately), so the body
 * is dropped instead; autocannon still parses every answer (http-parser-js) and counts its bytes.
 */
function dropAnswerBodies(): void {
  const require = createRequire(import.meta.url);
  const queue = require('autocannon/lib/pipelinedRequestsQueue.js') as { prototype: { addBody: (data: Buffer) => void } };
  queue.prototype.addBody = () => {};
}
dropAnswerBodies();

export interface FilePart {
  field: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

/** A multipart/form-data body built once and sent unchanged by every request of a measurement. */
export function multipartBody(fields: Record<string, string>, files: FilePart[]): { body: Buffer; contentType: string } {
  const boundary = `----bench${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  for (const file of files) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${file.filename}"\r\nContent-Type: ${file.contentType}\r\n\r\n`,
      ),
      file.bytes,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export interface HttpRequestSpec {
  url: string;
  body: Buffer;
  headers: Record<string, string>;
}

/**
 * One autocannon run over loopback. Latencies are taken from autocannon's per-response event
 * (hrtime, sub-millisecond) rather than its histogram, which rounds to whole milliseconds. Any
 * non-2xx answer or socket error fails the measurement: a benchmark of error pages is no benchmark.
 */
/** CPU ms (user + system, every thread, or thread `tid` alone) a process has used, from /proc; undefined off Linux. */
export function processCpuMs(pid: number | undefined, tid?: number): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
/** USER_HZ: 100 on every Linux architecture Node supports. */
const CLOCK_TICKS = 100;

export async function cannonRun(spec: HttpRequestSpec, connections: number, budget: Pick<Budget, 'seconds' | 'amount'>, items = 1, serverPid?: number): Promise<Run> {
  const latenciesMs: number[] = [];
  const statuses = new Map<number, number>();
  const server0 = processCpuMs(serverPid);
  const client0 = process.cpuUsage();
  const started = performance.now();
  let lastAt = started;
  const instance = autocannon({
    url: spec.url,
    method: 'POST',
    headers: spec.headers,
    body: spec.body,
    connections,
    pipelining: 1,
    timeout: 120,
    ...(budget.amount !== undefined ? { amount: Math.max(budget.amount, connections) } : { duration: budget.seconds }),
  });
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
    if (statusCode >= 200 && statusCode < 300) latenciesMs.push(responseTime);
    lastAt = performance.now();
  });
  const result = await instance;
  const bad = [...statuses].filter(([code]) => code < 200 || code >= 300);
  if (bad.length > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${spec.url}: ${bad.map(([c, n]) => `${n}× HTTP ${c}`).join(', ') || 'no bad statuses'}; ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  // Up to the last answer: autocannon's own duration rounds to its 1-second ticks, and in
  // `amount` mode it ends only at the next tick.
  const seconds = (lastAt - started) / 1000;
  const client = process.cpuUsage(client0);
  const server1 = processCpuMs(serverPid);
  return {
    items: latenciesMs.length * items,
    seconds,
    latenciesMs,
    clientCpuMs: (client.user + client.system) / 1000,
    serverCpuMs: server0 !== undefined && server1 !== undefined ? server1 - server0 : undefined,
  };
}

/** Warm-up, then `runs` measured runs. */
export async function cannonMeasure(spec: HttpRequestSpec, connections: number, budget: Budget, items = 1, serverPid?: number): Promise<Run[]> {
  await cannonRun(spec, connections, { seconds: 0, amount: Math.max(budget.warmup, connections) });
  const runs: Run[] = [];
  for (let i = 0; i < budget.runs; i++) runs.push(await cannonRun(spec, connections, budget, items, serverPid));
  return runs;
}

/**
 * The same requests through Node's own HTTP client (llhttp, keep-alive, `connections` sockets).
 * autocannon parses responses with http-parser-js, in JavaScript, which for image-sized answers
 * costs the shared CPU more than the service's own HTTP handling does; this client shows how much
 * of a gap is the load generator's.
 */
export async function nodeHttpRun(spec: HttpRequestSpec, connections: number, budget: Pick<Budget, 'seconds' | 'amount'>, items = 1, serverPid?: number): Promise<Run> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const url = new URL(spec.url);
  const headers = { ...spec.headers, 'content-length': String(spec.body.length) };
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request({ agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers }, (res) => {
        res.on('data', () => {});
        res.on('end', () => (res.statusCode! >= 200 && res.statusCode! < 300 ? resolve() : reject(new Error(`${spec.url}: HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(spec.body);
    });
  try {
    await poolRun(once, connections, { seconds: 0, amount: connections });
    const server0 = processCpuMs(serverPid);
    const run = await poolRun(once, connections, budget, items);
    const server1 = processCpuMs(serverPid);
    return {
      ...run,
      clientCpuMs: run.serverCpuMs,
      serverCpuMs: server0 !== undefined && server1 !== undefined ? server1 - server0 : undefined,
    };
  } finally {
    agent.destroy();
  }
}
