import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus, freemem, loadavg, release, totalmem, type as osType } from 'node:os';
import sharp from 'sharp';
import { serviceEnv } from '../services/shared/parallelism.mjs';

const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** What the figures were measured on: they mean little without it. */
export function machineInfo() {
  const list = cpus();
  return {
    cores: list.length,
    cpu_model: list[0]?.model ?? 'unknown',
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    free_memory_gib_at_start: Math.round((freemem() / 2 ** 30) * 10) / 10,
    load_average_at_start: loadavg().map((v) => Math.round(v * 100) / 100),
    os: `${osType()} ${release()}`,
  };
}

export function nodeVersions() {
  return {
    node: process.versions.node,
    sharp: sharp.versions.sharp ?? packageVersion('sharp'),
    libvips: sharp.versions.vips,
    fastify: packageVersion('fastify'),
    'onnxruntime-node': packageVersion('onnxruntime-node'),
    autocannon: packageVersion('autocannon'),
    tsx: packageVersion('tsx'),
    // The services' pool, as bench/services.ts starts them (the bench process's own is Node's default unless set).
    uv_threadpool_size: serviceEnv('augment').UV_THREADPOOL_SIZE,
  };
}

export function gitCommit(): string {
  const out = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return out.status === 0 ? out.stdout.trim() : 'unknown';
}
