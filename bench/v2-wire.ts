/**
 * What the Open Inference Protocol's datatypes and framing cost on the wire: 64 Fashion-MNIST
 * test images to `resnet` as JSON FP32, binary FP32, binary FP16 and binary UINT8. Prints request
 * bytes and throughput (images/s, median of runs) per encoding, and how far each one's
 * probabilities are from JSON FP32's.
 *
 *   npx tsx bench/v2-wire.ts [--seconds 8] [--runs 3] [--connections 2]
 *
 * The service runs as a child process over a repository holding only `resnet` (a symlink).
 */
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findDataDir, loadTestSet } from '../models/evaluation/fashion-mnist.ts';
import { readInput } from '../services/inference/data-plane.ts';
import { intakeErrors } from '../services/inference/errors.ts';
import { loadModelConfig } from '../services/inference/model-config.ts';
import { parseJson, readInputs, splitBody, type V2RequestJson } from '../services/inference/protocols/v2-binary.ts';
import { validateAgainst } from '../services/shared/form.ts';
import { componentSchema } from '../services/shared/openapi.ts';
import { nodeHttpRun } from './http.ts';
import { startService } from './services.ts';
import { le16 } from '../test/helpers/tensors.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, runs: { type: 'string', default: '3' }, connections: { type: 'string', default: '2' } } });
const seconds = Number(values.seconds);
const runs = Number(values.runs);
const connections = Number(values.connections);

const N = 64;
const MEAN = 0.286;
const STD = 0.353;

/** 64 test images as 0-255 pixels; synthetic ones when the dataset is not installed (said so). */
function images(): { pixels: Uint8Array; source: string } {
  if (findDataDir()) return { pixels: loadTestSet().images.slice(0, N * 784), source: 'Fashion-MNIST test images 0-63' };
  const pixels = Uint8Array.from({ length: N * 784 }, (_, i) => (i * 2654435761) >>> 24);
  return { pixels, source: 'synthetic 28x28 images (Fashion-MNIST not installed)' };
}

function framed(datatype: string, tensor: Buffer): { body: Buffer; headers: Record<string, string> } {
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: 'input', shape: [N, 1, 28, 28], datatype, parameters: { binary_data_size: tensor.length } }],
    parameters: { binary_data_output: true },
  }));
  return { body: Buffer.concat([header, tensor]), headers: { 'inference-header-content-length': String(header.length) } };
}

function post(url: string, body: Buffer, headers: Record<string, string>): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((done, fail) => {
    const req = http.request(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? done({ headers: res.headers, body: Buffer.concat(chunks) }) : fail(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks)}`))));
    });
    req.on('error', fail);
    req.end(body);
  });
}

/** The answer's logits as numbers, JSON or binary. */
function logits(answer: { headers: http.IncomingHttpHeaders; body: Buffer }): number[] {
  const length = answer.headers['inference-header-content-length'];
  if (length === undefined) return JSON.parse(answer.body.toString()).outputs[0].data;
  const tail = answer.body.subarray(Number(length));
  return Array.from({ length: tail.length / 4 }, (_, i) => tail.readFloatLE(i * 4));
}

function probabilities(flat: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < flat.length; i += 10) {
    const row = flat.slice(i, i + 10);
    const max = Math.max(...row);
    const e = row.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    out.push(...e.map((v) => v / sum));
  }
  return out;
}

const { pixels, source } = images();
const fp32 = Float32Array.from(pixels, (p) => (p / 255 - MEAN) / STD);
const le32 = Buffer.alloc(fp32.length * 4);
fp32.forEach((v, i) => le32.writeFloatLE(v, i * 4));
const fp16 = le16(fp32);

const encodings: Array<[string, { body: Buffer; headers: Record<string, string> }]> = [
  ['JSON FP32', { body: Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [N, 1, 28, 28], datatype: 'FP32', data: Array.from(fp32) }] })), headers: {} }],
  ['binary FP32', framed('FP32', le32)],
  ['binary FP16', framed('FP16', fp16)],
  ['binary UINT8', framed('UINT8', Buffer.from(pixels))],
];

/**
 * The server's intake of one request in-process, without the model: what REST does before the
 * batcher (split, JSON.parse, schema check, binary sizes, decode to the model's Float32 rows).
 * Less exposed to the other work on the machine than the throughput figures: median of 7 rounds.
 */
const config = await loadModelConfig('models/resnet');
const schema = componentSchema('V2InferRequest');
function intakeMs(spec: { body: Buffer; headers: Record<string, string> }): number {
  const once = () => {
    const { json, tail } = splitBody(spec.body, spec.headers['inference-header-content-length']);
    const body = parseJson(json);
    validateAgainst(body, schema, intakeErrors);
    readInput(config, readInputs(body as V2RequestJson, tail)[0]!, { maxImagesPerRequest: N });
  };
  for (let i = 0; i < 20; i++) once();
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) once();
    rounds.push((performance.now() - t0) / 50);
  }
  return rounds.sort((a, b) => a - b)[3]!;
}
const intake = new Map(encodings.map(([name, spec]) => [name, intakeMs(spec)]));

const root = await mkdtemp(join(tmpdir(), 'augserve-v2-wire-'));
await symlink(resolve('models/resnet'), join(root, 'resnet'));
const service = await startService({ name: 'inference', env: { MODEL_REPOSITORY: root, EXECUTION_PROVIDERS: 'cpu', MAX_IMAGES_PER_REQUEST: '64' } });
try {
  const url = `${service.url}/v2/models/resnet/infer`;
  const reference = probabilities(logits(await post(url, encodings[0]![1].body, encodings[0]![1].headers)));
  console.log(`${source}; ${connections} connections, ${runs} runs of ${seconds} s each; machine shared with other work`);
  console.log('| encoding | request bytes | answer bytes | server intake ms / request | images/s (median) | runs | max abs. probability difference from JSON FP32 | same top-1 |');
  console.log('|---|---|---|---|---|---|---|---|');
  // Runs interleaved (each encoding once per round), so that load from other work on the machine
  // falls on all four alike rather than on whichever ran at that moment.
  const checked = [];
  for (const [name, spec] of encodings) {
    const answer = await post(url, spec.body, spec.headers);
    const probs = probabilities(logits(answer));
    const diff = Math.max(...probs.map((p, i) => Math.abs(p - reference[i]!)));
    // FP16 rounds the normalised input (11 significant bits): a small, real difference, shown.
    if (!(diff < 1e-2)) throw new Error(`${name}: probabilities differ from JSON FP32 by ${diff}`);
    const top1 = (p: number[], i: number) => p.slice(i * 10, i * 10 + 10).indexOf(Math.max(...p.slice(i * 10, i * 10 + 10)));
    const agree = Array.from({ length: N }, (_, i) => top1(probs, i) === top1(reference, i)).filter(Boolean).length;
    await nodeHttpRun({ url, body: spec.body, headers: spec.headers }, connections, { seconds: 2 }, N);
    checked.push({ name, spec, answerBytes: answer.body.length, diff, agree, perRun: [] as number[] });
  }
  for (let r = 0; r < runs; r++) {
    for (const entry of checked) {
      const run = await nodeHttpRun({ url, body: entry.spec.body, headers: entry.spec.headers }, connections, { seconds }, N, service.child.pid);
      entry.perRun.push(run.items / run.seconds);
    }
  }
  for (const { name, spec, answerBytes, diff, agree, perRun } of checked) {
    const sorted = [...perRun].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(`| ${name} | ${spec.body.length} | ${answerBytes} | ${intake.get(name)!.toFixed(2)} | ${median.toFixed(0)} | ${perRun.map((v) => v.toFixed(0)).join(', ')} | ${diff.toExponential(1)} | ${agree}/${N} |`);
  }
} finally {
  await service.stop();
  await rm(root, { recursive: true, force: true });
}
