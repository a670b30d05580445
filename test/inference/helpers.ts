import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Log } from '../../services/inference/worker-pool.ts';

export const FIXTURE_REPOSITORY = fileURLToPath(new URL('../fixtures/models/', import.meta.url));

export interface LogRecord {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

/** A logger that keeps what it is told, for asserting on reasons. */
export function recordingLog(): Log & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: LogRecord['level']) => (fields: unknown, message?: string) => {
    records.push({ level, fields: typeof fields === 'object' && fields ? (fields as Record<string, unknown>) : {}, message: message ?? String(fields) });
  };
  return { records, info: at('info'), warn: at('warn'), error: at('error') } as unknown as Log & { records: LogRecord[] };
}

/** A throw-away copy of the fixture repository that a test may break. */
export async function copyRepository(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'augserve-models-'));
  await cp(FIXTURE_REPOSITORY, root, { recursive: true });
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}
