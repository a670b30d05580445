import { readdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { getPriority, setPriority } from 'node:os';
import type { FastifyInstance } from 'fastify';

/**
 * Give every thread of this process but the main one (the event loop) at least niceness `nice`,
 * on Linux, where a thread's priority is its own (`/proc/self/task` lists them; setpriority takes
 * a thread id). Threads already lower (the inference workers) are left alone. Returns how many
 * were lowered. A process may always lower its own threads; raising needs privileges, never asked.
 * @example lowerBackgroundThreads(10) // libuv's pool, V8's helpers: 9 threads
 */
export function lowerBackgroundThreads(nice: number): number {
  if (nice <= 0 || process.platform !== 'linux') return 0;
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return 0;
  }
  let lowered = 0;
  for (const entry of tids) {
    const tid = Number(entry);
    if (tid === process.pid) continue;
    try {
      if (getPriority(tid) < nice) {
        setPriority(tid, nice);
        lowered++;
      }
    } catch {
      // The thread ended between the listing and the call.
    }
  }
  return lowered;
}

/** How often threads started since (a replaced inference worker's helpers, libvips' own) are lowered too. */
const RESCAN_MS = 10_000;

/**
 * Keeps the event loop ahead of the work it hands out when the CPU is saturated: libuv's pool
 * (sharp's decoding, resizing and encoding) and V8's helper threads run at niceness `nice`, the
 * event loop at the process's own. The event loop then gets a core within a scheduler tick when
 * it has something to do (a health probe, a new connection, a request to parse), however deep
 * the pool's queue; the pool still takes every cycle the event loop leaves. A matter for the
 * process, not the app: `launch` calls it for a service process (tests building apps in their own
 * process are left alone). Run once libuv's pool has started (its threads start together, at
 * first use), and again now and then for threads started later.
 * @example await prioritiseEventLoop(config.poolNice, app.log)
 */
export async function prioritiseEventLoop(nice: number, log?: FastifyInstance['log']): Promise<void> {
  if (nice <= 0 || process.platform !== 'linux') return;
  await stat('.'); // starts libuv's pool, if nothing has yet
  const lowered = lowerBackgroundThreads(nice);
  log?.debug({ lowered, nice }, 'background threads lowered');
  setInterval(() => lowerBackgroundThreads(nice), RESCAN_MS).unref();
}
