/**
 * The augment service at two checkouts, interleaved (A, B, B, A, …), raw-body uploads at
 * concurrency 32 through autocannon: CPU ms per request (every thread of each service) and
 * requests/s, per round and median. For a before/after of a change in the service's own code,
 * which a full `npm run bench` compares only across runs.
 *
 *   git archive <before-commit> | tar -x -C /tmp/before && ln -s "$PWD/node_modules" /tmp/before/
 *   node --import tsx bench/service-ab.ts /tmp/before . rotate,cutout 1 4 300
 *     # roots, operations, input (0: 512×512 PNG, 1: 1024×768 JPEG), rounds, requests per run
 *
 * Both services run at once (each idle while the other is measured), started as `npm start`
 * starts them (bench/services.ts), from their own roots.
 */
import { augmentCases, SEED } from './augment-cases.ts';
import { cannonRun } from './http.ts';
import { AUGMENT_INPUTS, augmentInput } from './inputs.ts';
import { setServiceRoot, startService } from './services.ts';
import { median } from './stats.ts';
import { resolve } from 'node:path';
const [beforeRoot, afterRoot, ops = 'rotate,cutout', input = '1', rounds = '4', n = '300'] = process.argv.slice(2);
if (!beforeRoot || !afterRoot) throw new Error('usage: bench/service-ab.ts BEFORE_ROOT AFTER_ROOT [ops] [input] [rounds] [requests]');
const { image } = await augmentInput(AUGMENT_INPUTS[Number(input)]!, 'bench/work/inputs');
const svcs: Record<string, Awaited<ReturnType<typeof startService>>> = {};
for (const [name, root] of [['before', beforeRoot], ['after', afterRoot]] as const) {
  setServiceRoot(resolve(root));
  svcs[name] = await startService({ name: 'augment' });
}
for (const op of ops.split(',')) {
  const c = augmentCases(image.width, image.height).find((x) => x.op === op)!;
  const spec = (url: string) => ({ url: `${url}/v1/augment/${op}?${new URLSearchParams({ seed: String(SEED), ...c.fields })}`, body: image.bytes, headers: { 'content-type': image.format === 'png' ? 'image/png' : 'image/jpeg' } });
  const res: Record<string, { cpu: number[]; rps: number[] }> = { before: { cpu: [], rps: [] }, after: { cpu: [], rps: [] } };
  for (const name of ['before', 'after']) await cannonRun(spec(svcs[name]!.url), 32, { seconds: 0, amount: 64 });
  for (let r = 0; r < Number(rounds); r++) {
    for (const name of r % 2 ? ['after', 'before'] : ['before', 'after']) {
      const run = await cannonRun(spec(svcs[name]!.url), 32, { seconds: 0, amount: Number(n) }, 1, svcs[name]!.child.pid);
      res[name]!.cpu.push(run.serverCpuMs! / run.items);
      res[name]!.rps.push(run.items / run.seconds);
    }
  }
  for (const name of ['before', 'after']) {
    console.log(`${image.name} ${op} ${name}: CPU ms/request ${res[name]!.cpu.map((v) => v.toFixed(2)).join(', ')} (median ${median(res[name]!.cpu).toFixed(2)}); req/s median ${median(res[name]!.rps).toFixed(1)}`);
  }
}
for (const s of Object.values(svcs)) await s.stop();
