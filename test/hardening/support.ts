/**
 * What the hardening tests share: the upload endpoints with their usual fields, sending a
 * corpus entry to one of them, and judging the answer against the entry's expectation.
 */
import { existsSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import type { FastifyInstance } from 'fastify';
import sharp, { type Metadata } from 'sharp';
import type { Expectation, HostileEntry, OutputFormat, Part } from '../../scripts/make-hostile-corpus.ts';

export interface Endpoint {
  service: 'augment' | 'inference';
  /** Label in test names. */
  label: string;
  url: string;
  /** The augment operation, which `params` entries are matched against. */
  op?: string;
  /** The field that hostile images go into. */
  imageField: string;
  /** The other parts a request to this endpoint normally carries. */
  usual: Part[];
  /** Size (and format) of a 200 answer's image when not the input's: a crop to a fixed size, a mix image. */
  output?: { width: number; height: number; format?: OutputFormat };
}

const file = (name: string, value: Buffer): Part => ({ name, value, filename: `${name}.png`, contentType: 'application/octet-stream' });

/** Every upload endpoint of augment, each with fields that make a 200's output size predictable. */
export function augmentEndpoints(valid: Buffer): Endpoint[] {
  const endpoint = (op: string, usual: Part[], extra: Partial<Endpoint> = {}): Endpoint => ({
    service: 'augment',
    label: op,
    url: `/v1/augment/${op}`,
    op,
    imageField: 'image',
    usual,
    ...extra,
  });
  return [
    endpoint('flip', []),
    endpoint('rotate', [{ name: 'angle', value: '17' }]),
    // The whole 48×32 image as the crop: a random crop near the top leaves a corrupt last PNG chunk
    // unread (libvips reads rows only as far as the crop needs), so the answer would be 200 by chance.
    endpoint('crop', [{ name: 'output_width', value: '8' }, { name: 'output_height', value: '8' }, { name: 'scale_range', value: '1,1' }, { name: 'ratio_range', value: '1.5,1.5' }], { output: { width: 8, height: 8 } }),
    endpoint('scale', [{ name: 'factor', value: '1.3' }]),
    endpoint('cutout', [{ name: 'holes', value: '2' }]),
    endpoint('cutmix', [file('mix_image', valid)]),
    endpoint('pipeline', [{ name: 'ops', value: '[{"op":"flip","p":0.5},{"op":"rotate","angle_range":"-15,15"},{"op":"cutout"}]' }]),
    // CutMix's second upload gets the hostile images too; a 200 then has the first image's size.
    endpoint('cutmix', [file('image', valid)], { label: 'cutmix (mix_image)', imageField: 'mix_image', output: { width: 48, height: 32, format: 'png' } }),
    endpoint('affine', [{ name: 'angle', value: '17' }, { name: 'shear', value: '5,0' }]),
    endpoint('perspective', [{ name: 'distortion_scale', value: '0.4' }]),
    endpoint('brightness', [{ name: 'factor_range', value: '0.5,1.5' }]),
    endpoint('contrast', [{ name: 'factor', value: '1.3' }]),
    endpoint('saturation', [{ name: 'factor', value: '0.4' }]),
    endpoint('hue', [{ name: 'factor', value: '0.2' }]),
    endpoint('color_jitter', [{ name: 'brightness', value: '0.4' }, { name: 'contrast', value: '0.4' }, { name: 'saturation', value: '0.4' }, { name: 'hue', value: '0.1' }]),
    endpoint('sharpness', [{ name: 'factor', value: '2' }]),
    endpoint('gamma', [{ name: 'gamma', value: '0.7' }]),
    endpoint('posterize', [{ name: 'bits', value: '3' }]),
    endpoint('solarize', [{ name: 'threshold', value: '128' }]),
    endpoint('equalize', []),
    endpoint('autocontrast', []),
    endpoint('invert', []),
    endpoint('grayscale', [{ name: 'channels', value: '3' }]),
    endpoint('gaussian_blur', [{ name: 'kernel_size', value: '5' }]),
    endpoint('gaussian_noise', [{ name: 'sigma', value: '10' }]),
    endpoint('jpeg', [{ name: 'quality_range', value: '20,60' }]),
    endpoint('erase', [{ name: 'value', value: 'random' }]),
    endpoint('mixup', [file('mix_image', valid)]),
    endpoint('mosaic', [file('mix_image', valid), file('mix_image', valid), file('mix_image', valid)]),
    endpoint('autoaugment', [{ name: 'policy', value: 'svhn' }]),
    endpoint('randaugment', [{ name: 'num_ops', value: '3' }]),
    endpoint('trivialaugment', []),
    endpoint('augmix', [{ name: 'severity', value: '5' }]),
  ];
}

/** The inference app's module, once the inference engineer has written it. */
export const INFERENCE_APP = new URL('../../services/inference/app.ts', import.meta.url);
export const inferenceExists = () => existsSync(INFERENCE_APP);

export function toFormData(parts: Part[]): FormData {
  const body = new FormData();
  for (const part of parts) {
    if (part.filename !== undefined) {
      const bytes = typeof part.value === 'string' ? Buffer.from(part.value) : part.value;
      body.append(part.name, new Blob([new Uint8Array(bytes)], { type: part.contentType ?? 'application/octet-stream' }), part.filename);
    } else {
      body.append(part.name, typeof part.value === 'string' ? part.value : part.value.toString('latin1'));
    }
  }
  return body;
}

/** The multipart parts an entry sends to an endpoint (undefined: the entry does not apply). */
export function partsFor(entry: HostileEntry, endpoint: Endpoint, valid: Buffer): Part[] | undefined {
  // A second upload field gets the images; the request-shape entries already ran on its endpoint.
  if (entry.kind !== 'image' && endpoint.imageField !== 'image') return undefined;
  switch (entry.kind) {
    case 'image':
      return [
        ...(endpoint.imageField === 'image' ? [] : endpoint.usual.filter((p) => p.name === 'image')),
        file(endpoint.imageField, entry.bytes),
        ...endpoint.usual.filter((p) => p.name !== 'image'),
      ];
    case 'form':
      return entry.parts(valid, endpoint.usual.filter((p) => p.name !== endpoint.imageField));
    case 'params':
      if (endpoint.service !== 'augment' || entry.op !== endpoint.op) return undefined;
      return [file('image', valid), ...endpoint.usual.filter((p) => !(p.name in entry.fields)), ...Object.entries(entry.fields).map(([name, value]) => ({ name, value }))];
    case 'body':
      return entry.service && entry.service !== endpoint.service ? undefined : [];
  }
}

export interface Answer {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  rawPayload: Buffer;
}

/** Send one entry through inject, bounded by `timeoutMs` (a hang is a failure, not a stuck test). */
export async function inject(app: FastifyInstance, entry: HostileEntry, endpoint: Endpoint, valid: Buffer, timeoutMs = 60_000): Promise<Answer | undefined> {
  const parts = partsFor(entry, endpoint, valid);
  if (parts === undefined) return undefined;
  const request =
    entry.kind === 'body'
      ? app.inject({ method: 'POST', url: endpoint.url, headers: entry.contentType ? { 'content-type': entry.contentType } : {}, body: entry.body })
      : app.inject({ method: 'POST', url: endpoint.url, body: toFormData(parts) });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([request, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const SHARP_FORMAT = { jpeg: 'jpeg', png: 'png', webp: 'webp', avif: 'heif' } as const;

/**
 * Why an answer does not meet the expectation, or undefined when it does. `prefix` is the
 * service's code prefix (`AUG`); a 200's image is decoded and its size and format checked.
 */
export async function judge(answer: Answer, expect: Expectation, prefix: string, output?: Endpoint['output']): Promise<string | undefined> {
  const { statusCode } = answer;
  const type = String(answer.headers['content-type'] ?? '');
  if (statusCode >= 500) return `got a ${statusCode}: ${answer.rawPayload.toString().slice(0, 200)}`;
  if (expect.status !== 200) {
    if (!type.startsWith('application/problem+json')) return `expected problem+json ${expect.status}, got ${statusCode} ${type}`;
    const body = JSON.parse(answer.rawPayload.toString()) as { code?: string; status?: number };
    const code = `${prefix}_${expect.code}`;
    if (statusCode !== expect.status || body.code !== code || body.status !== statusCode) {
      return `expected ${expect.status} ${code}, got ${statusCode} ${body.code}: ${JSON.stringify(body).slice(0, 200)}`;
    }
    return undefined;
  }
  if (statusCode !== 200) return `expected 200, got ${statusCode}: ${answer.rawPayload.toString().slice(0, 200)}`;
  if (!type.startsWith('image/')) return `expected an image, got ${type}`;
  let meta: Metadata;
  try {
    meta = await sharp(answer.rawPayload).metadata();
    await sharp(answer.rawPayload).raw().toBuffer();
  } catch (error) {
    return `the 200's body is not a decodable image: ${(error as Error).message}`;
  }
  const want = { ...expect, ...output };
  if (meta.format !== SHARP_FORMAT[want.format] || meta.width !== want.width || meta.height !== want.height) {
    return `expected a ${want.width}×${want.height} ${want.format}, got ${meta.width}×${meta.height} ${meta.format}`;
  }
  return undefined;
}

let collect: (() => void) | undefined;
/**
 * A full garbage collection. `--expose-gc` cannot be given to `npm test`'s node, so the flag
 * is set at run time and `gc` taken from a fresh context (V8 installs it there).
 */
export function fullGc(): void {
  gcOnce();
  gcOnce();
}

/** One full collection (the first call installs `gc`, as fullGc describes). */
export function gcOnce(): void {
  if (!collect) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
}

export interface MemorySample {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** Memory after a full GC and a pause for libvips' and the allocator's own freeing. */
export async function settledMemory(): Promise<MemorySample> {
  fullGc();
  await new Promise((resolve) => setTimeout(resolve, 200));
  fullGc();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, external, arrayBuffers };
}

export const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
