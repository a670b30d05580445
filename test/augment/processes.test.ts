import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { freePort } from '../helpers/ports.ts';
import { makeImage, pixels } from '../helpers/images.ts';

/**
 * AUGMENT_PROCESSES=2 for real: a primary and two processes sharing one port, each answering
 * requests; SIGTERM to the primary stops them all, gracefully, and it exits 0.
 */
test('AUGMENT_PROCESSES runs several processes on one port, stopped together', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/augment/server.ts'], {
    env: { ...process.env, AUGMENT_PROCESSES: '2', AUGMENT_PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  try {
    // Each process logs its parallelism, then that it listens; both must be up before requests.
    const listening = new Set<number>();
    const parallelism: Array<Record<string, number>> = [];
    for await (const line of createInterface({ input: child.stdout! })) {
      const record = JSON.parse(line) as { pid: number; msg?: string; parallelism?: Record<string, number> };
      if (record.parallelism) parallelism.push(record.parallelism);
      if (record.msg?.startsWith('Server listening')) listening.add(record.pid);
      if (listening.size === 2) break;
    }
    assert.equal(listening.size, 2);
    assert.ok(!listening.has(child.pid!), 'the primary itself does not serve');
    assert.deepEqual(parallelism.map((p) => p.augment_processes), [2, 2]);

    const photo = await makeImage(30, 20, 'png');
    const res = await fetch(`http://127.0.0.1:${port}/v1/augment/flip?direction=vertical&seed=1`, { method: 'POST', body: new Uint8Array(photo), headers: { 'content-type': 'image/png' } });
    assert.equal(res.status, 200);
    const out = await pixels(Buffer.from(await res.arrayBuffer()));
    assert.deepEqual([out.width, out.height], [30, 20]);

    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0);
    for (const pid of listening) assert.throws(() => process.kill(pid, 0), /ESRCH/, `process ${pid} still running`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
