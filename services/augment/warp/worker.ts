import { parentPort } from 'node:worker_threads';
import { warp } from '../ops/warp.ts';
import type { WarpJob, WarpDone } from './pool.ts';

// One warp per message, answered with the pixels (their buffer moved, not copied, when it is the
// output's own).
parentPort!.on('message', (job: WarpJob) => {
  try {
    const src = { data: Buffer.from(job.src.buffer, job.src.byteOffset, job.src.byteLength), width: job.width, height: job.height, channels: job.channels };
    const out = warp(src, job.forward, job.outWidth, job.outHeight, { interpolation: job.interpolation, fill: job.fill });
    const own = out.data.byteOffset === 0 && out.data.byteLength === out.data.buffer.byteLength;
    const data = own ? out.data : Uint8Array.prototype.slice.call(out.data);
    parentPort!.postMessage({ id: job.id, data } satisfies WarpDone, [data.buffer as ArrayBuffer]);
  } catch (error) {
    parentPort!.postMessage({ id: job.id, error: (error as Error).message } satisfies WarpDone);
  }
});
