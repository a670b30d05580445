import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Log } from '../../services/inference/worker-pool.ts';

export const FIXTURE_REPOSITORY = fileURLToPath(new URL('../fixtures/models/', import.meta.url));
/** A repository holding one compute-heavy model, `slow-gray`. */
export const SLOW_REPOSITORY = fileURLToPath(new URL('../fixtures/slow-models/', import.meta.url));

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

/** A logger that keeps what it is told, for asserting on reasons. */
export function recordingLog(): Log & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: LogRecord['level']) => (fields: unknown, message?: string) => {
    records.push({ level, fields: typeof fields === 'object' && fields ? (fields as Record<string, unknown>) : {}, message: message ?? String(fields) });
  };
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as Log & { records: LogRecord[] };
}

/** A throw-away copy of the fixture repository that a test may break. */
export async function copyRepository(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'augserve-models-'));
  await cp(FIXTURE_REPOSITORY, root, { recursive: true });
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

import type { FastifyInstance } from 'fastify';
import { buildInferenceApp, type InferenceAppOptions } from '../../services/inference/app.ts';
import { readInferenceConfig } from '../../services/inference/config.ts';

/** The inference config the tests use: the fixture repository, CPU only, one worker, quiet. */
export function testConfig(env: NodeJS.ProcessEnv = {}) {
  return readInferenceConfig({ LOG_LEVEL: 'silent', MODEL_REPOSITORY: FIXTURE_REPOSITORY, EXECUTION_PROVIDERS: 'cpu', INFERENCE_WORKERS: '1', ...env });
}

/** The inference app over a model repository (the fixtures by default), CPU only, quiet. */
export async function buildTestApp(env: NodeJS.ProcessEnv = {}, options: Pick<InferenceAppOptions, 'awaitModels' | 'repository'> = {}): Promise<FastifyInstance> {
  return buildInferenceApp(testConfig(env), options);
}

/** Asserts a problem+json answer with the status and code; returns the body. */
export function expectProblem(res: { statusCode: number; headers: Record<string, unknown>; body: string; json(): any }, status: number, code: string, seen?: Set<string>) {
  if (res.statusCode !== status) throw new Error(`expected ${status} ${code}, got ${res.statusCode}: ${res.body}`);
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) throw new Error(`not problem+json: ${res.headers['content-type']}`);
  const body = res.json();
  if (body.code !== code) throw new Error(`expected code ${code}, got ${body.code}: ${res.body}`);
  seen?.add(code);
  return body;
}
