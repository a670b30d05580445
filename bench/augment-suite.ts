import { runPython } from './python-job.ts';
import { join } from 'node:path';
import sharp from 'sharp';
import { intakeErrors } from '../services/augment/errors.ts';
import { operations } from '../services/augment/ops/index.ts';
import { createRng } from '../services/augment/random.ts';
import type { ImageSize } from '../services/augment/ops/types.ts';
import { augmentOne } from '../services/augment/single.ts';
import { decodeImage, defaultOutputFormat, inspectImage, type IntakeLimits } from '../services/shared/intake.ts';
import { augmentCases, SEED, type AugmentCase } from './augment-cases.ts';
import { cannonMeasure, multipartBody, nodeHttpRun, type HttpRequestSpec } from './http.ts';
import { AUGMENT_INPUTS, augmentInput, type BenchImage } from './inputs.ts';
import { measure, type Budget } from './pool.ts';
import { startService } from './services.ts';
import { round, summarize, type Figures, type Run } from './stats.ts';

export type AugmentStack = 'service' | 'service-raw' | 'service-node-http' | 'sharp-in-process' | 'pillow' | 'opencv' | 'torchvision';

/** The stacks that are this project's own (the rest are Python's). */
export const OWN_STACKS: readonly string[] = ['service', 'service-raw', 'service-node-http', 'sharp-in-process'];

export interface AugmentResult extends Figures {
  input: string;
  op: string;
  stack: AugmentStack;
  concurrency: number;
  output: { width: number; height: number };
}

export interface AugmentRatio {
  input: string;
  op: string;
  concurrency: number;
  /** service (multipart upload) ÷ sharp-in-process at the same concurrency. */
  service_vs_sharp: number;
  /** service with the image as the raw body ÷ sharp-in-process (target ≥ 0.90 at 32); null for CutMix (multipart only). */
  service_raw_vs_sharp: number | null;
  /** The same through Node's http client instead of autocannon (top concurrency only). */
  service_node_http_vs_sharp: number | null;
  /** Service CPU ms per request (all its threads) ÷ in-process CPU ms per request: its own overhead. */
  service_cpu_vs_sharp_cpu: number | null;
  /** service (raw body where the operation takes it, else multipart) ÷ the fastest Python stack (target ≥ 1.0). */
  service_vs_best_python: number;
  best_python: string;
  /** Every stack produced the expected width×height. */
  dims_match: boolean;
}

export interface AugmentOptions {
  quick: boolean;
  budget: Budget;
  concurrencies: number[];
  /** Python gets its own (shorter) budget: it is one process, measured at concurrency 1. */
  pythonBudget: Budget;
  pythonStacks: string[];
  inputs: typeof AUGMENT_INPUTS;
  workDir: string;
  log: (line: string) => void;
  /** Only these operations (profiling runs one). */
  ops?: string[];
}

const CONTENT_TYPE = { png: 'image/png', jpeg: 'image/jpeg' } as const;

function requestFor(url: string, image: BenchImage, mix: BenchImage, c: AugmentCase): HttpRequestSpec {
  const files = [{ field: 'image', filename: image.name, contentType: CONTENT_TYPE[image.format], bytes: image.bytes }];
  if (c.op === 'cutmix') files.push({ field: 'mix_image', filename: mix.name, contentType: CONTENT_TYPE[mix.format], bytes: mix.bytes });
  const { body, contentType } = multipartBody({ seed: String(SEED), ...c.fields }, files);
  return { url: `${url}/v1/augment/${c.op}`, body, headers: { 'content-type': contentType } };
}

/** The same request with the image as the whole body and the fields in the query string (not CutMix). */
function rawRequestFor(url: string, image: BenchImage, c: AugmentCase): HttpRequestSpec {
  const query = new URLSearchParams({ seed: String(SEED), ...c.fields });
  return { url: `${url}/v1/augment/${c.op}?${query}`, body: image.bytes, headers: { 'content-type': CONTENT_TYPE[image.format] } };
}

/** One request outside the measurement: the answer must be an image of the expected size. */
async function checkResponse(spec: HttpRequestSpec): Promise<{ width: number; height: number }> {
  const res = await fetch(spec.url, { method: 'POST', headers: spec.headers, body: new Uint8Array(spec.body) });
  if (!res.ok) throw new Error(`${spec.url}: HTTP ${res.status} ${await res.text()}`);
  const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
  return { width: meta.width ?? 0, height: meta.height ?? 0 };
}

/**
 * The service's own work without HTTP, as its route does it: header (intake) → sample →
 * `augmentOne` (one sharp pass on plain inputs for flip/rotate/crop/scale, else decode → apply → encode),
 * with the service's sharp settings. This is the ceiling the service can approach.
 */
function inProcessTask(image: BenchImage, mix: BenchImage, c: AugmentCase) {
  const limits: IntakeLimits = { fileBytes: 1 << 30, files: 2, fieldBytes: 1 << 16, fields: 64, inputPixels: 40_000_000 };
  const operation = operations[c.op];
  let last = { width: 0, height: 0 };
  const task = async () => {
    const meta = await inspectImage(image.bytes, limits, intakeErrors);
    const ctx = { mix: c.op === 'cutmix' ? (await decodeImage(mix.bytes, limits, intakeErrors, 'mix_image')).raw : undefined };
    const resolve = (size: ImageSize) => operation.sample(createRng(SEED), size, c.params, ctx) as Record<string, unknown>;
    const out = await augmentOne({ op: c.op, bytes: image.bytes, meta, resolve, ctx, format: defaultOutputFormat(meta), quality: undefined, limits });
    last = { width: out.width, height: out.height };
  };
  return { task, output: () => last };
}

/**
 * HTTP runs are counted, not timed: autocannon ends a timed run by dropping the requests in
 * flight, which the service still works on (into the next run), and at concurrency 32 with
 * second-long latencies that is most of a short run. A count sized from the in-process rate
 * (about `seconds` of work, at least three requests per connection) lets every request finish.
 */
export function countBudget(budget: Budget, expectedRate: number, concurrency: number): Budget {
  if (budget.amount !== undefined) return budget;
  return { ...budget, amount: Math.max(3 * concurrency, Math.round(budget.seconds * expectedRate)), warmup: Math.max(budget.warmup, concurrency) };
}

interface PythonJobResult {
  versions: Record<string, unknown>;
  results: { input: string; op: string; stack: string; output: { width: number; height: number }; runs: { items: number; seconds: number; latencies_ms: number[] }[] }[];
}

/** Kept here for the bench's other callers; it lives in python-job.ts so that a suite can run Python without autocannon. */
export { runPython };

export interface AugmentSuiteResult {
  inputs: { name: string; width: number; height: number; format: string; bytes: number }[];
  cases: Record<string, AugmentCase[]>;
  results: AugmentResult[];
  ratios: AugmentRatio[];
  python_versions: Record<string, unknown>;
}

export async function runAugmentSuite(options: AugmentOptions): Promise<AugmentSuiteResult> {
  const { budget, log } = options;
  // The service's settings (app.ts): no libvips cache, one libvips thread per image.
  sharp.cache(false);
  sharp.concurrency(1);
  const inputsDir = join(options.workDir, 'inputs');
  const loaded = await Promise.all(options.inputs.map((spec) => augmentInput(spec, inputsDir)));
  const results: AugmentResult[] = [];
  const cases: Record<string, AugmentCase[]> = {};
  const service = await startService({ name: 'augment' });
  try {
    for (const { image, mix } of loaded) {
      cases[image.name] = augmentCases(image.width, image.height).filter((c) => !options.ops || options.ops.includes(c.op));
      for (const c of cases[image.name]!) {
        const spec = requestFor(service.url, image, mix, c);
        const serviceDims = await checkResponse(spec);
        const rawSpec = c.op === 'cutmix' ? undefined : rawRequestFor(service.url, image, c);
        const rawDims = rawSpec && (await checkResponse(rawSpec));
        const local = inProcessTask(image, mix, c);
        // Interleaved per concurrency, so that the machine's noise falls on both alike.
        for (const concurrency of options.concurrencies) {
          const inproc = await measure(local.task, concurrency, budget);
          const b: AugmentResult = { input: image.name, op: c.op, stack: 'sharp-in-process', concurrency, output: local.output(), ...summarize(inproc) };
          const http = await cannonMeasure(spec, concurrency, countBudget(budget, b.throughput, concurrency), 1, service.child.pid);
          const a: AugmentResult = { input: image.name, op: c.op, stack: 'service', concurrency, output: serviceDims, ...summarize(http) };
          results.push(a, b);
          if (rawSpec) {
            const raw = await cannonMeasure(rawSpec, concurrency, countBudget(budget, b.throughput, concurrency), 1, service.child.pid);
            const r: AugmentResult = { input: image.name, op: c.op, stack: 'service-raw', concurrency, output: rawDims!, ...summarize(raw) };
            results.push(r);
            log(`augment ${image.name} ${c.op} c=${concurrency}: service, raw body ${r.throughput} req/s (p50 ${r.p50_ms} ms, CPU/request ${r.cpu_ms_per_item} ms + client ${r.client_cpu_ms_per_item} ms)`);
          }
          if (concurrency === Math.max(...options.concurrencies)) {
            const runs = [];
            const sized = countBudget(budget, b.throughput, concurrency);
            for (let i = 0; i < budget.runs; i++) runs.push(await nodeHttpRun(spec, concurrency, sized, 1, service.child.pid));
            const h: AugmentResult = { input: image.name, op: c.op, stack: 'service-node-http', concurrency, output: serviceDims, ...summarize(runs) };
            results.push(h);
            log(`augment ${image.name} ${c.op} c=${concurrency}: service via node:http ${h.throughput} req/s (CPU/request ${h.cpu_ms_per_item} ms + client ${h.client_cpu_ms_per_item} ms)`);
          }
          log(`augment ${image.name} ${c.op} c=${concurrency}: service ${a.throughput} req/s (p50 ${a.p50_ms} ms, CPU/request ${a.cpu_ms_per_item} ms + client ${a.client_cpu_ms_per_item} ms), in-process ${b.throughput} req/s (CPU/request ${b.cpu_ms_per_item} ms)`);
        }
      }
    }
  } finally {
    await service.stop();
  }

  let pythonVersions: Record<string, unknown> = {};
  if (options.pythonStacks.length > 0) {
    const job = {
      budget: options.pythonBudget,
      stacks: options.pythonStacks,
      cases: loaded.flatMap(({ image, mix }) =>
        cases[image.name]!.map((c) => ({ ...c, input: image.path, mix: mix.path, input_name: image.name, format: image.format })),
      ),
    };
    const py = (await runPython(join(import.meta.dirname, 'python', 'augment_baseline.py'), job, log)) as PythonJobResult;
    pythonVersions = py.versions;
    for (const r of py.results) {
      const runs: Run[] = r.runs.map((run) => ({ items: run.items, seconds: run.seconds, latenciesMs: run.latencies_ms }));
      results.push({ input: r.input, op: r.op, stack: r.stack as AugmentStack, concurrency: 1, output: r.output, ...summarize(runs) });
    }
  }

  return {
    inputs: loaded.map(({ image }) => ({ name: image.name, width: image.width, height: image.height, format: image.format, bytes: image.bytes.length })),
    cases,
    results,
    ratios: augmentRatios(results, cases),
    python_versions: pythonVersions,
  };
}

/** Ratios at every measured concurrency; the targets are read at the highest one. */
export function augmentRatios(results: AugmentResult[], cases: Record<string, AugmentCase[]>): AugmentRatio[] {
  const ratios: AugmentRatio[] = [];
  for (const [input, list] of Object.entries(cases)) {
    for (const c of list) {
      const mine = results.filter((r) => r.input === input && r.op === c.op);
      const python = mine.filter((r) => !OWN_STACKS.includes(r.stack));
      const best = python.reduce<AugmentResult | undefined>((a, b) => (!a || b.throughput > a.throughput ? b : a), undefined);
      const dims_match = mine.every((r) => r.output.width === c.expect.width && r.output.height === c.expect.height);
      for (const s of mine.filter((r) => r.stack === 'service')) {
        const local = mine.find((r) => r.stack === 'sharp-in-process' && r.concurrency === s.concurrency);
        const viaNode = mine.find((r) => r.stack === 'service-node-http' && r.concurrency === s.concurrency);
        const raw = mine.find((r) => r.stack === 'service-raw' && r.concurrency === s.concurrency);
        ratios.push({
          input,
          op: c.op,
          concurrency: s.concurrency,
          service_vs_sharp: local ? round(s.throughput / local.throughput) : Number.NaN,
          service_raw_vs_sharp: local && raw ? round(raw.throughput / local.throughput) : null,
          service_node_http_vs_sharp: local && viaNode ? round(viaNode.throughput / local.throughput) : null,
          service_cpu_vs_sharp_cpu: local?.cpu_ms_per_item && s.cpu_ms_per_item ? round(s.cpu_ms_per_item / local.cpu_ms_per_item) : null,
          service_vs_best_python: best ? round((raw ?? s).throughput / best.throughput) : Number.NaN,
          best_python: best?.stack ?? 'none',
          dims_match,
        });
      }
    }
  }
  return ratios;
}
