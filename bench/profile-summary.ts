/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function, and total
 * (inclusive) time per function, top N each, as shares of the sampled time.
 *
 *   node --import tsx bench/profile-summary.ts bench/work/prof/CPU.*.cpuprofile [top] [skip-ms]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** `skipMs`: samples in the first milliseconds (module loading, warm-up) are left out. */
export function summarizeProfile(profile: Profile, top = 25, skipMs = 0) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  let clock = 0;
  profile.samples.forEach((id, i) => {
    clock += profile.timeDeltas[i] ?? 0;
    if (clock >= skipMs * 1000) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const label = (n: Node) => {
    const file = n.callFrame.url.replace(/^.*\/(node_modules\/)?/, (m) => (m.includes('node_modules') ? 'nm/' : '')).replace(/^file:\/\//, '');
    return `${n.callFrame.functionName || '(anonymous)'} ${file}:${n.callFrame.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    self.set(label(node), (self.get(label(node)) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + us);
    }
  }
  const all = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const rank = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: Math.round((us / all) * 1000) / 10 }));
  return { sampled_ms: Math.round(all / 1000), self: rank(self), total: rank(total) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, top, skip] = process.argv.slice(2);
  const s = summarizeProfile(JSON.parse(readFileSync(path!, 'utf8')) as Profile, Number(top ?? 25), Number(skip ?? 0));
  console.log(`sampled ${s.sampled_ms} ms`);
  console.log('\nself time:');
  for (const r of s.self) console.log(`${String(r.share).padStart(5)}%  ${String(r.ms).padStart(6)} ms  ${r.name}`);
  console.log('\ntotal time:');
  for (const r of s.total) console.log(`${String(r.share).padStart(5)}%  ${String(r.ms).padStart(6)} ms  ${r.name}`);
}
