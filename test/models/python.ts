import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const PYTHON = '/usr/bin/python3';
export const REPO = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
export const TRAINING = join(REPO, 'models', 'training');

/** Why the Python training tests cannot run here, or undefined when they can. */
export function pythonTorchMissing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import torch, onnx'], { encoding: 'utf8' });
  if (r.status !== 0) {
    return `python3-torch not installed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
  }
  return undefined;
}

/** Run a Python command to completion; throws with its output on failure. */
export function runPython(args: string[], timeoutMs = 900_000): string { // a hang guard, far beyond a run on a busy machine
  const r = spawnSync(PYTHON, args, { cwd: REPO, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, PYTHONUNBUFFERED: '1' } });
  if (r.status !== 0) throw new Error(`python3 ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
