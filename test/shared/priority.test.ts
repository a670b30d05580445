import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const priority = fileURLToPath(new URL('../../services/shared/priority.ts', import.meta.url));

// In a child process: lowering threads is for the whole process, and this test runner's own
// threads are better left as they are.
test('every thread but the event loop is lowered to POOL_NICE; the event loop keeps its priority', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
  const script = `
    import { readdirSync } from 'node:fs';
    import { stat } from 'node:fs/promises';
    import { getPriority } from 'node:os';
    import { lowerBackgroundThreads } from ${JSON.stringify(priority)};
    await stat('.');
    const before = getPriority(process.pid);
    const lowered = lowerBackgroundThreads(7);
    const again = lowerBackgroundThreads(7);
    const others = readdirSync('/proc/self/task').map(Number).filter((tid) => tid !== process.pid).map((tid) => getPriority(tid));
    console.log(JSON.stringify({ before, main: getPriority(process.pid), lowered, again, others }));
  `;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, UV_THREADPOOL_SIZE: '4' } });
  assert.equal(child.status, 0, child.stderr);
  const result = JSON.parse(child.stdout) as { before: number; main: number; lowered: number; again: number; others: number[] };
  assert.equal(result.main, result.before, 'the event loop thread was lowered');
  // libuv's pool (4 threads, started by the stat) at least, and V8's platform threads.
  assert.ok(result.others.length >= 4, `${result.others.length} threads`);
  assert.ok(result.others.every((nice) => nice >= 7), JSON.stringify(result.others));
  assert.equal(result.lowered, result.others.length);
  assert.equal(result.again, 0, 'threads already low enough are left alone');
});
