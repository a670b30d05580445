import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildAugmentApp } from '../../../services/augment/app.ts';
import { readAugmentConfig } from '../../../services/augment/config.ts';
import type { RawImage } from '../../../services/augment/ops/types.ts';
import { form } from '../../helpers/form.ts';
import { decodeRaw } from '../../helpers/torchvision.ts';

type Fields = Record<string, string | number | boolean | Buffer | undefined>;

export function filtersApp(): Promise<FastifyInstance> {
  return buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
}

/** POSTs `image` to /v1/augment/{op} asking for PNG; the decoded answer and its applied params. */
export async function augmentPng(app: FastifyInstance, op: string, image: Buffer, fields: Fields): Promise<{ raw: RawImage; bytes: Buffer; params: Record<string, unknown> }> {
  const res = await app.inject({ method: 'POST', url: `/v1/augment/${op}`, body: form({ image, format: 'png', ...fields }) });
  assert.equal(res.statusCode, 200, res.body);
  const summary = JSON.parse(res.headers['x-augment-params'] as string) as { op: string; params: Record<string, unknown> };
  assert.equal(summary.op, op);
  return { raw: await decodeRaw(res.rawPayload), bytes: res.rawPayload, params: summary.params };
}

/** Applied params as form fields (arrays as JSON text), for a replay. */
export function asFields(params: Record<string, unknown>): Fields {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : (v as string | number | boolean)]));
}

/** Asserts a 400 problem+json with `code` whose message names `field`. */
export async function assertRefused(app: FastifyInstance, op: string, image: Buffer, fields: Fields, code: string, field: string) {
  const res = await app.inject({ method: 'POST', url: `/v1/augment/${op}`, body: form({ image, ...fields }) });
  assert.equal(res.statusCode, 400, `${op} ${JSON.stringify(fields)}: ${res.body}`);
  assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
  const problem = res.json();
  assert.equal(problem.code, code, res.body);
  assert.ok(String(problem.detail).includes(`for ${field},`), `${field} named in ${res.body}`);
}
