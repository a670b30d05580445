/**
 * The augment service's garbage collections under load: starts it with `--trace-gc` (and any
 * further node flags given), sends `requests` raw-body uploads at concurrency 32 after a warm-up,
 * and prints the CPU ms per request (every service thread), requests/s, and the collections by
 * kind and reason with their ms.
 *
 *   node --import tsx bench/gc-trace.ts flip 0 600 [node flags…]   # op, input (0: 512×512 PNG, 1: 1024×768 JPEG), requests
 *   SERVICE_ENV='{"SHARP_CONCURRENCY":"1"}' node --import tsx bench/gc-trace.ts …   # extra service environment
 */
import { augmentCases, SEED } from './augment-cases.ts';
import { cannonRun } from './http.ts';
import { AUGMENT_INPUTS, augmentInput } from './inputs.ts';
import { startService } from './services.ts';
const [op = 'flip', input = '0', n = '400', ...flags] = process.argv.slice(2);
const { image } = await augmentInput(AUGMENT_INPUTS[Number(input)]!, 'bench/work/inputs');
const c = augmentCases(image.width, image.height).find((x) => x.op === op)!;
const svc = await startService({ name: 'augment', nodeFlags: ['--trace-gc', ...flags], env: JSON.parse(process.env.SERVICE_ENV ?? '{}') });
const spec = { url: `${svc.url}/v1/augment/${op}?${new URLSearchParams({ seed: String(SEED), ...c.fields })}`, body: image.bytes, headers: { 'content-type': image.format === 'png' ? 'image/png' : 'image/jpeg' } };
await cannonRun(spec, 32, { seconds: 0, amount: 64 });
let log = '';
svc.child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
const run = await cannonRun(spec, 32, { seconds: 0, amount: Number(n) }, 1, svc.child.pid);
await svc.stop();
const kinds: Record<string, { count: number; ms: number }> = {};
for (const line of log.split('\n')) {
  const m = /(Scavenge|Mark-Compact \(reduce\)|Mark-Compact|Minor Mark-Compact).*?([\d.]+) \/ ([\d.]+) ms(?: \(\+ ([\d.]+) ms in)?/.exec(line);
  if (!m) continue;
  const reason = /external memory pressure/.test(line) ? 'external memory pressure' : /allocation failure/.test(line) ? 'allocation failure' : /finalize incremental marking via task/.test(line) ? 'finalize via task' : /idle/.test(line) ? 'idle' : 'other';
  const k = (kinds[`${m[1]}: ${reason}`] ??= { count: 0, ms: 0 });
  k.count++;
  k.ms += Number(m[2]) + Number(m[4] ?? 0);
}
console.log(JSON.stringify({ op, input, flags, requests: run.items, cpu_ms_per_request: run.serverCpuMs! / run.items, rps: run.items / run.seconds, gc: kinds }, null, 1));
