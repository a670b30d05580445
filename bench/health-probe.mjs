// The prober of bench/health-under-load.ts, in its own process (as a kubelet or curl would be):
// GET each path in turn on a fresh connection every `intervalMs` until `durationMs` is over, then
// print every latency (ms) as JSON. Plain JavaScript, so it starts without a compile step.
import http from 'node:http';

const [base, durationMs, intervalMs, ...paths] = process.argv.slice(2);
const until = performance.now() + Number(durationMs);
const latencies = Object.fromEntries(paths.map((path) => [path, []]));
const failures = Object.fromEntries(paths.map((path) => [path, 0]));

function probe(path) {
  return new Promise((resolve) => {
    const started = performance.now();
    const request = http.get(`${base}${path}`, { agent: false, timeout: 10_000 }, (response) => {
      response.resume();
      response.on('end', () => resolve({ ms: performance.now() - started, ok: response.statusCode === 200 }));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', () => resolve({ ms: performance.now() - started, ok: false }));
  });
}

while (performance.now() < until) {
  for (const path of paths) {
    const { ms, ok } = await probe(path);
    if (ok) latencies[path].push(ms);
    else failures[path]++;
  }
  await new Promise((resolve) => setTimeout(resolve, Number(intervalMs)));
}
process.stdout.write(JSON.stringify({ latencies, failures }));
