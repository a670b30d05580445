import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Projective } from '../../services/augment/ops/geometry.ts';
import { warp } from '../../services/augment/ops/warp.ts';
import { WarpPool } from '../../services/augment/warp/pool.ts';

test('WarpPool: the same pixels as warp on this thread, any output size, jobs spread over the workers', async () => {
  const pool = new WarpPool(2);
  try {
    const src = { data: Buffer.from(Array.from({ length: 30 * 20 * 3 }, (_, i) => (i * 7) % 256)), width: 30, height: 20, channels: 3 as const };
    const cases: Array<{ forward: Projective; width: number; height: number; interpolation: 'bilinear' | 'nearest' }> = [
      { forward: [0.9, 0.1, 1, -0.1, 0.9, 2, 0, 0, 1], width: 25, height: 18, interpolation: 'bilinear' },
      { forward: [-1, 0, 30, 0, 1, 0, 0, 0, 1], width: 30, height: 20, interpolation: 'nearest' },
      // A 1×1 output: Node keeps buffers this small in a shared pool, so it cannot be moved whole.
      { forward: [1, 0, 0, 0, 1, 0, 0.001, 0, 1], width: 1, height: 1, interpolation: 'bilinear' },
    ];
    const fill = new Uint8Array([1, 2, 3]);
    const answers = await Promise.all(cases.map((c) => pool.warp(src, c.forward, c.width, c.height, { interpolation: c.interpolation, fill })));
    answers.forEach((answer, i) => {
      const c = cases[i]!;
      const expected = warp(src, c.forward, c.width, c.height, { interpolation: c.interpolation, fill });
      assert.deepEqual([answer.width, answer.height, answer.channels], [c.width, c.height, 3]);
      assert.ok(answer.data.equals(expected.data), `case ${i}`);
    });
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.warp({ data: Buffer.alloc(3), width: 1, height: 1, channels: 3 }, [1, 0, 0, 0, 1, 0, 0, 0, 1], 1, 1, { interpolation: 'nearest', fill: new Uint8Array(3) }), /closed/);
});
