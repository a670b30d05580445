import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import type { Budget } from './pool.ts';
import type { Run } from './stats.ts';

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
export async function cannonRun(spec: HttpRequestSpec, connections: number, budget: Pick<Budget, 'seconds' | 'amount'>, items = 1): Promise<Run> {
  const latenciesMs: number[] = [];
  const statuses = new Map<number, number>();
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
  return { items: latenciesMs.length * items, seconds, latenciesMs };
}

/** Warm-up, then `runs` measured runs. */
export async function cannonMeasure(spec: HttpRequestSpec, connections: number, budget: Budget, items = 1): Promise<Run[]> {
  await cannonRun(spec, connections, { seconds: 0, amount: Math.max(budget.warmup, connections) });
  const runs: Run[] = [];
  for (let i = 0; i < budget.runs; i++) runs.push(await cannonRun(spec, connections, budget, items));
  return runs;
}
