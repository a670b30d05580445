import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../shared/start-worker.ts';
import type { Projective } from '../ops/geometry.ts';
import type { RawImage } from '../ops/types.ts';
import type { WarpOptions } from '../ops/warp.ts';

export interface WarpJob {
  id: number;
  src: Uint8Array;
  width: number;
  height: number;
  channels: RawImage['channels'];
  forward: Projective;
  outWidth: number;
  outHeight: number;
  interpolation: WarpOptions['interpolation'];
  fill: Uint8Array;
}

export type WarpDone = { id: number; data: Uint8Array; error?: undefined } | { id: number; error: string; data?: undefined };

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (image: RawImage) => void; reject: (error: Error) => void; width: number; height: number; channels: RawImage['channels'] }>;
}

const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/**
 * `warp` (ops/warp.ts) on worker threads, so that a fused run's JavaScript resample does not hold
 * the event loop that parses and writes the shard tars. Same pixels as `warp` in the caller's
 * thread. A job goes to the worker with the fewest in flight; a worker that dies fails its jobs
 * and is replaced.
 */
export class WarpPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  /** The workers start with the first job: an app that never fuses a run in a shard starts none. */
  constructor(readonly size: number) {}

  private spawn(): Slot {
    const slot: Slot = { worker: startWorker(WORKER_URL), pending: new Map() };
    slot.worker.unref();
    slot.worker.on('message', (done: WarpDone) => {
      const job = slot.pending.get(done.id);
      if (!job) return;
      slot.pending.delete(done.id);
      if (done.error !== undefined) job.reject(new Error(`warp worker: ${done.error}`));
      else job.resolve({ data: Buffer.from(done.data.buffer, done.data.byteOffset, done.data.byteLength), width: job.width, height: job.height, channels: job.channels });
    });
    const fail = (error: Error) => {
      for (const job of slot.pending.values()) job.reject(error);
      slot.pending.clear();
      const i = this.slots.indexOf(slot);
      if (i >= 0 && !this.closed) this.slots[i] = this.spawn();
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`warp worker exited with ${code}`));
    });
    return slot;
  }

  warp(src: RawImage, forward: Projective, width: number, height: number, options: WarpOptions): Promise<RawImage> {
    if (this.closed) return Promise.reject(new Error('the warp pool is closed'));
    while (this.slots.length < this.size) this.slots.push(this.spawn());
    const slot = this.slots.reduce((best, s) => (s.pending.size < best.pending.size ? s : best));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject, width, height, channels: src.channels });
      const job: WarpJob = { id, src: src.data, width: src.width, height: src.height, channels: src.channels, forward, outWidth: width, outHeight: height, interpolation: options.interpolation, fill: options.fill };
      slot.worker.ref();
      slot.worker.postMessage(job);
    }).finally(() => {
      if (slot.pending.size === 0) slot.worker.unref();
    }) as Promise<RawImage>;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }
}
