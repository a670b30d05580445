import type { AugmentSuiteResult } from './augment-suite.ts';
import type { InferenceSuiteResult } from './inference-suite.ts';
import type { ShardSuiteResult } from './shard-suite.ts';
import { chart, type Panel, type Series } from './svg.ts';
import type { ModelRatios, Target } from './targets.ts';

/** What one results file holds (bench/results/<suite>.json). */
export interface ResultsFile<T> {
  suite: 'augment' | 'inference' | 'shard' | 'health' | 'scaling';
  generated_at: string;
  command: string;
  quick: boolean;
  commit: string;
  machine: Record<string, unknown>;
  versions: Record<string, unknown>;
  settings: Record<string, unknown>;
  data: T;
  targets: Target[];
}

export type AugmentFile = ResultsFile<AugmentSuiteResult>;
export type InferenceFile = ResultsFile<InferenceSuiteResult & { ratios: ModelRatios[] }>;
export type ShardFile = ResultsFile<ShardSuiteResult>;

const n = (v: number | null | undefined, digits = 1) => (v == null || !Number.isFinite(v) ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(digits));
const x = (v: number | null | undefined) => (v == null || !Number.isFinite(v) ? '–' : `${v.toFixed(2)}×`);
const mark = (t: Target | undefined) => (!t ? '' : t.met ? ' ✅' : ' ❌');

export function header(file: ResultsFile<unknown>): string {
  const m = file.machine as { cores: number; cpu_model: string; memory_gib: number; load_average_at_start: number[] };
  const v = file.versions as Record<string, unknown>;
  return [
    `Measured ${file.generated_at} at commit \`${file.commit}\` with \`${file.command}\` on ${m.cores} cores (${m.cpu_model}, ${m.memory_gib} GiB; load average at start ${m.load_average_at_start.join(', ')}).`,
    `Versions: ${Object.entries(v).map(([k, val]) => `${k} ${typeof val === 'object' ? JSON.stringify(val) : String(val)}`).join(', ')}.`,
  ].join('\n');
}

export function augmentMarkdown(file: AugmentFile): string {
  const { data } = file;
  const lines: string[] = ['### Augmentation', '', header(file), ''];
  const concurrencies = [...new Set(data.results.filter((r) => r.stack === 'service').map((r) => r.concurrency))].sort((a, b) => a - b);
  const top = Math.max(...concurrencies);
  for (const input of data.inputs) {
    lines.push(`#### ${input.name} (${input.width}×${input.height} ${input.format.toUpperCase()}, ${Math.round(input.bytes / 1024)} KiB)`, '');
    lines.push(
      `| op | output | ${concurrencies.map((c) => `service raw body c=${c} req/s (p50 / p99 ms)`).join(' | ')} | ${concurrencies.map((c) => `service multipart c=${c}`).join(' | ')} | ${concurrencies.map((c) => `in-process sharp c=${c}`).join(' | ')} | Pillow | OpenCV | torchvision | raw body ÷ sharp @${top} | multipart ÷ sharp @${top} (autocannon; node:http) | service ÷ best Python | CPU ms/request @${top}: service raw + autocannon / multipart / in-process |`,
    );
    lines.push(`|${' --- |'.repeat(2 + concurrencies.length * 3 + 7)}`);
    for (const c of data.cases[input.name] ?? []) {
      const rs = data.results.filter((r) => r.input === input.name && r.op === c.op);
      const get = (stack: string, conc = 1) => rs.find((r) => r.stack === stack && r.concurrency === conc);
      const ratio = data.ratios.find((r) => r.input === input.name && r.op === c.op && r.concurrency === top);
      const tSharp = file.targets.find((t) => t.id === `augment/${input.name}/${c.op}/vs-sharp`);
      const tPy = file.targets.find((t) => t.id === `augment/${input.name}/${c.op}/vs-python`);
      const py = (stack: string) => {
        const r = get(stack);
        return r ? `${n(r.throughput)} (${n(r.p50_ms)})` : 'n/a';
      };
      const withLatency = (r: { throughput: number; p50_ms: number; p99_ms: number } | undefined) => (r ? `${n(r.throughput)} (${n(r.p50_ms)} / ${n(r.p99_ms)})` : 'multipart only');
      const raw = ratio?.service_raw_vs_sharp ?? null;
      lines.push(
        `| ${c.op} | ${c.expect.width}×${c.expect.height}${ratio?.dims_match ? '' : ' ⚠️ mismatch'} | ${concurrencies.map((conc) => withLatency(get('service-raw', conc))).join(' | ')} | ${concurrencies
          .map((conc) => {
            const r = get('service', conc);
            return r ? `${n(r.throughput)} (${n(r.p50_ms)} / ${n(r.p99_ms)})` : '–';
          })
          .join(' | ')} | ${concurrencies.map((conc) => n(get('sharp-in-process', conc)?.throughput)).join(' | ')} | ${py('pillow')} | ${py('opencv')} | ${py('torchvision')} | ${raw === null ? '–' : `${x(raw)}${mark(tSharp)}`} | ${x(ratio?.service_vs_sharp)}${raw === null ? mark(tSharp) : ''}; ${x(ratio?.service_node_http_vs_sharp)} | ${x(ratio?.service_vs_best_python)} (${ratio?.best_python ?? '–'})${mark(tPy)} | ${n(get('service-raw', top)?.cpu_ms_per_item)} + ${n(get('service-raw', top)?.client_cpu_ms_per_item)} / ${n(get('service', top)?.cpu_ms_per_item)} / ${n(get('sharp-in-process', top)?.cpu_ms_per_item)} |`,
      );
    }
    lines.push('');
  }
  lines.push(
    'Python stacks are one process, one request at a time (requests/s with p50 ms in brackets). ✅/❌: the targets (issue 16: the service with a raw-body upload through autocannon ≥ 0.90× in-process sharp at the top concurrency, CutMix with its two-image multipart upload; the service ≥ 1.0× the best Python, raw body where the operation takes it). Multipart rows are the same requests as a multipart form. "node:http" is the same service driven by Node\'s own HTTP client at the top concurrency: autocannon parses answers in JavaScript (http-parser-js) and on a 2-core machine its CPU comes out of the service\'s share. CPU ms/request counts every thread of the service process (and of the bench process for autocannon and in-process sharp).',
    '',
  );
  return lines.join('\n');
}

export function inferenceMarkdown(file: InferenceFile): string {
  const { data } = file;
  const lines: string[] = ['### Inference', '', header(file), ''];
  lines.push(`Models: ${data.models.map((m) => `\`${m.name}\` (${m.source}, ${m.architecture}, input ${JSON.stringify(m.input_shape)}, image ${m.input_image})`).join('; ')}.`, '');
  lines.push(`Service settings: ${Object.entries(data.service_settings).map(([k, v]) => `${k}=${v}`).join(', ')}; other settings at their defaults.`, '');
  const rs = data.results;
  const concs = [...new Set(rs.filter((r) => r.stack.startsWith('service') && r.batch === 1).map((r) => r.concurrency))].sort((a, b) => a - b);
  const multi = [...new Set(rs.filter((r) => r.stack.startsWith('service') && r.batch > 1).map((r) => `${r.batch}@${r.concurrency}`))];
  const batches = [...new Set(rs.filter((r) => r.stack === 'raw-session').map((r) => r.batch))].sort((a, b) => a - b);
  lines.push('Throughput in images/s (p50 latency per request or batch in ms).', '');
  lines.push(`| model | stack | ${concs.map((c) => `1 image, c=${c}`).join(' | ')} | ${multi.map((m) => `${m.split('@')[0]} images, c=${m.split('@')[1]}`).join(' | ')} |`);
  lines.push(`|${' --- |'.repeat(2 + concs.length + multi.length)}`);
  const cell = (r: { throughput: number; p50_ms: number } | undefined) => (r ? `${n(r.throughput)} (${n(r.p50_ms)})` : '–');
  for (const m of data.models) {
    for (const stack of ['service-batching', 'service-no-batching'] as const) {
      const mine = rs.filter((r) => r.model === m.name && r.stack === stack);
      if (mine.length === 0) continue;
      lines.push(
        `| ${m.name} | ${stack === 'service-batching' ? 'service, dynamic batching' : 'service, no batching'} | ${concs.map((c) => cell(mine.find((r) => r.batch === 1 && r.concurrency === c))).join(' | ')} | ${multi
          .map((key) => cell(mine.find((r) => `${r.batch}@${r.concurrency}` === key)))
          .join(' | ')} |`,
      );
    }
  }
  lines.push('');
  lines.push(`| model | stack | ${batches.map((b) => `batch ${b}`).join(' | ')} |`);
  lines.push(`|${' --- |'.repeat(2 + batches.length)}`);
  const labels: Record<string, string> = {
    'raw-session': 'raw onnxruntime-node session (decode + preprocess + run)',
    'raw-session-run-only': 'raw session, run only',
    'pytorch-eager': 'PyTorch eager (PIL + torchvision preprocess + forward)',
    'pytorch-forward-only': 'PyTorch eager, forward only',
  };
  for (const m of data.models) {
    for (const stack of Object.keys(labels)) {
      const mine = rs.filter((r) => r.model === m.name && r.stack === stack);
      if (mine.length === 0) continue;
      lines.push(`| ${m.name} | ${labels[stack]} | ${batches.map((b) => cell(mine.find((r) => r.batch === b))).join(' | ')} |`);
    }
  }
  lines.push('');
  lines.push('| model | raw best (batch) | 1 image c=32 ÷ raw best | multi-image ÷ raw best | c=1 ÷ PyTorch b=1 | raw b=1 ÷ PyTorch b=1 | c=1 p50 − raw b=1 p50 (batching on / off) | best single-image, batching ÷ no batching |');
  lines.push(`|${' --- |'.repeat(8)}`);
  for (const r of data.ratios) {
    const t = (id: string) => mark(file.targets.find((tt) => tt.id === `inference/${r.model}/${id}`));
    lines.push(
      `| ${r.model} | ${n(r.raw_best_images_per_s)} (${r.raw_best_batch}) | ${x(r.single_c32_vs_raw_best)}${t('single-c32')} | ${x(r.multi_vs_raw_best)}${t('multi')} | ${x(r.single_c1_vs_torch_b1)}${t('vs-torch')} | ${x(r.raw_b1_vs_torch_b1)} | ${n(r.c1_p50_minus_raw_ms_batching, 2)}${t('latency-batching')} / ${n(r.c1_p50_minus_raw_ms_no_batching, 2)}${t('latency-no-batching')} ms | ${x(r.best_single_batching_vs_no_batching)} |`,
    );
  }
  lines.push('');
  if (data.ensemble.length > 0) {
    lines.push(`Ensemble \`default\` (${data.ensemble[0]!.members.join(', ')}), one image per request, dynamic batching on:`, '');
    lines.push('| concurrency | requests/s | p50 ms | p99 ms | ÷ members run in turn (throughput) | p50 ÷ Σ members\' p50 |');
    lines.push(`|${' --- |'.repeat(6)}`);
    for (const e of data.ensemble) lines.push(`| ${e.concurrency} | ${n(e.throughput)} | ${n(e.p50_ms)} | ${n(e.p99_ms)} | ${x(e.vs_members_in_turn)} | ${x(e.p50_vs_members_sum)} |`);
    lines.push('');
  }
  return lines.join('\n');
}

export function shardMarkdown(file: ShardFile): string {
  const { data } = file;
  const t = (id: string) => mark(file.targets.find((target) => target.id === id));
  const runs = (r: { images_per_s: number; per_run: number[] } | undefined) => (r ? `${n(r.images_per_s)} | ${r.per_run.map((v) => n(v)).join(', ')}` : '– | –');
  const loaders: Record<string, string> = {
    defaults: 'PyTorch DataLoader, 2 workers: torchvision defaults (nearest-neighbour rotation, bilinear resize, RandomErasing), tensor out',
    'same-ops': 'PyTorch DataLoader, 2 workers: the same operations (bilinear rotation, Lanczos-3 resize, the same Cutout), tensor out',
    'same-ops-jpeg': 'PyTorch DataLoader, 2 workers: the same operations + JPEG encode (q90), bytes out',
  };
  const lines = ['### Shards', '', header(file), ''];
  lines.push(
    `Inputs: ${data.image}; steps ${data.ops.map((s) => `\`${JSON.stringify(s)}\``).join(', ')}; JPEG q90 out. Shards of ${data.samples} samples are generated and streamed by the client as they are sent; answers are counted, not kept. The service runs ${data.concurrency} samples at once (SHARD_CONCURRENCY auto) with UV_THREADPOOL_SIZE=${data.uv_threadpool_size}; the in-process row runs \`augmentSample\` at that concurrency in the bench process${data.bench_uv_threadpool_size ? ` (UV_THREADPOOL_SIZE=${data.bench_uv_threadpool_size})` : ''}. Rows are interleaved run by run.`,
    '',
    '| | images/s (median) | per run |',
    '| --- | --- | --- |',
    `| \`POST /v1/augment/shard\`, one shard of ${data.samples} samples | ${runs(data.rows.shard)} |`,
    `| in-process: \`augmentSample\`, ${data.concurrency} at a time, no HTTP or tar | ${runs(data.rows.in_process)} |`,
    ...Object.entries(data.rows.dataloader).map(([v, r]) => `| ${loaders[v] ?? v} | ${runs(r)} |`),
    `| two shards of ${data.replica_samples} at once, one replica | ${runs(data.rows.two_shards_one_replica)} |`,
    `| the same, one shard per replica, two replicas on the same cores (overhead, not scaling) | ${runs(data.rows.two_shards_two_replicas)} |`,
    '',
    `Shard ÷ in-process ${x(data.ratios.shard_vs_in_process)}${t('shard/vs-in-process')}; shard ÷ DataLoader ${Object.entries(data.ratios.shard_vs_dataloader).map(([v, r]) => `${v} ${x(r)}${v === 'same-ops' ? t('shard/vs-dataloader') : ''}`).join(', ') || '–'}; two replicas ÷ one ${x(data.ratios.two_replicas_vs_one)}.`,
    '',
  );
  if (data.recipe) {
    const r = data.recipe;
    lines.push(
      `Issue 24's recipe: steps ${r.ops.map((step) => `\`${JSON.stringify(step)}\``).join(', ')}; \`format=npy\`, \`layout=chw\` (uint8 tensors out, no encoder), same inputs and shard size.`,
      '',
      '| | images/s (median) | per run |',
      '| --- | --- | --- |',
      `| \`POST /v1/augment/shard\`, format=npy | ${runs(r.rows.shard_npy)} |`,
      `| in-process: \`augmentSample\`, format=npy | ${runs(r.rows.in_process_npy)} |`,
      `| \`POST /v1/augment/shard\`, format=npy, SHARD_CACHE_MB=${r.cache_mb} warm (a later epoch) | ${runs(r.rows.shard_npy_cache_warm)} |`,
      `| PyTorch DataLoader, 2 workers: the recipe with torchvision + PIL (bilinear rotation and resize), uint8 tensors out | ${runs(r.rows.dataloader)} |`,
      '',
      `Shard ÷ DataLoader ${r.ratios.shard_vs_dataloader === undefined ? '–' : x(r.ratios.shard_vs_dataloader)}${t('shard/recipe-vs-dataloader')}; shard ÷ in-process ${x(r.ratios.shard_vs_in_process)}${t('shard/recipe-vs-in-process')}; cache warm ÷ DataLoader ${r.ratios.cache_warm_vs_dataloader === undefined ? '–' : x(r.ratios.cache_warm_vs_dataloader)}${t('shard/recipe-cache-warm-vs-dataloader')}.` +
        (r.trainer_cpu_us ? ` Trainer CPU per sample to a uint8 tensor: \`.npy\` ${n(r.trainer_cpu_us.npy)} µs, JPEG q90 ${n(r.trainer_cpu_us.jpeg)} µs.` : ''),
      '',
    );
  }
  if (data.rss.length > 0) {
    lines.push('| shard streamed through one replica | samples | seconds | RSS before MiB | peak RSS during MiB |', '| --- | --- | --- | --- | --- |');
    for (const r of data.rss) lines.push(`| ${r.shard_mib} MiB | ${r.samples} | ${r.seconds} | ${r.rss_before_mib} | ${r.rss_peak_during_mib} |`);
    lines.push('');
  }
  return lines.join('\n');
}

export function targetsMarkdown(targets: Target[]): string {
  const met = targets.filter((t) => t.met).length;
  const lines = [`${met} of ${targets.length} targets met in this run.`, '', '| target | value | needed | met |', '| --- | --- | --- | --- |'];
  for (const t of targets) lines.push(`| ${t.description} | ${t.value} | ${t.compare} ${t.target} | ${t.met ? 'yes' : '**no**'} |`);
  return lines.join('\n') + '\n';
}

export function augmentChart(file: AugmentFile): string {
  const panels: Panel[] = file.data.inputs.map((input) => {
    const series: Series[] = [];
    (file.data.cases[input.name] ?? []).forEach((c, i) => {
      const pts = (stack: string) =>
        file.data.results.filter((r) => r.input === input.name && r.op === c.op && r.stack === stack).map((r) => [r.concurrency, r.throughput] as [number, number]);
      series.push({ label: `${c.op}: service`, points: pts('service'), colour: i });
      series.push({ label: `${c.op}: in-process sharp`, points: pts('sharp-in-process'), dashed: true, colour: i });
    });
    return { title: `augment: ${input.name} (solid: service, dashed: in-process)`, xLabel: 'concurrent requests', yLabel: 'requests/s', series };
  });
  return chart(panels.map((p) => ({ ...p, series: p.series })), 2);
}

export function inferenceChart(file: InferenceFile): string {
  const panels: Panel[] = file.data.models.map((m) => {
    const rs = file.data.results.filter((r) => r.model === m.name);
    const line = (stack: string): [number, number][] => rs.filter((r) => r.stack === stack && r.batch === 1).map((r) => [r.concurrency, r.throughput]);
    const rawBest = Math.max(...rs.filter((r) => r.stack === 'raw-session').map((r) => r.throughput));
    const xs = [...new Set(rs.filter((r) => r.stack.startsWith('service')).map((r) => r.concurrency))];
    const series: Series[] = [
      { label: 'dynamic batching', points: line('service-batching') },
      { label: 'no batching', points: line('service-no-batching') },
      { label: 'raw session, best batch', points: xs.map((c) => [c, rawBest]), dashed: true },
    ];
    return { title: `inference: ${m.name}, one image per request`, xLabel: 'concurrent requests', yLabel: 'images/s', series: series.filter((s) => s.points.length > 0) };
  });
  return chart(panels, 2);
}
