import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng, randomSeed } from '../../services/augment/random.ts';

const N = 100_000;
const mean = (draw: () => number, n = N) => {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += draw();
  return sum / n;
};

test('createRng: same seed, same sequence; neighbouring seeds differ from the first draw', () => {
  const a = createRng(123);
  const b = createRng(123);
  const sequence = Array.from({ length: 100 }, () => a.next());
  assert.deepEqual(Array.from({ length: 100 }, () => b.next()), sequence);
  const firsts = new Set(Array.from({ length: 1000 }, (_, seed) => createRng(seed).next()));
  assert.equal(firsts.size, 1000);
});

test('next and uniform stay in range with the right mean', () => {
  const rng = createRng(1);
  for (let i = 0; i < N; i++) {
    const v = rng.next();
    assert.ok(v >= 0 && v < 1);
  }
  assert.ok(Math.abs(mean(() => rng.next()) - 0.5) < 0.005);
  assert.ok(Math.abs(mean(() => rng.uniform(-3, 5)) - 1) < 0.04);
  assert.equal(rng.uniform(2.5, 2.5), 2.5);
});

test('int covers [min, max) evenly', () => {
  const rng = createRng(2);
  const counts = new Array<number>(7).fill(0);
  for (let i = 0; i < 70_000; i++) {
    const v = rng.int(-3, 4);
    assert.ok(Number.isInteger(v) && v >= -3 && v < 4);
    counts[v + 3]!++;
  }
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, String(c));
  assert.throws(() => rng.int(3, 3), RangeError);
});

test('bernoulli, logUniform and normal have the right moments', () => {
  const rng = createRng(3);
  assert.ok(Math.abs(mean(() => (rng.bernoulli(0.3) ? 1 : 0)) - 0.3) < 0.01);
  // E[ln X] for log-uniform X on [a, b] is the midpoint of ln a and ln b.
  assert.ok(Math.abs(mean(() => Math.log(rng.logUniform(0.5, 8))) - (Math.log(0.5) + Math.log(8)) / 2) < 0.02);
  for (let i = 0; i < 1000; i++) {
    const v = rng.logUniform(0.75, 4 / 3);
    assert.ok(v >= 0.75 && v <= 4 / 3);
  }
  assert.equal(rng.logUniform(0.3, 0.3), 0.3);
  assert.ok(Math.abs(mean(() => rng.normal())) < 0.02);
  assert.ok(Math.abs(mean(() => rng.normal() ** 2) - 1) < 0.03);
});

for (const k of [0.3, 1, 2.5, 9]) {
  test(`gamma(${k}) has mean ${k} and variance ${k}`, () => {
    const rng = createRng(4);
    const draws = Array.from({ length: N }, () => rng.gamma(k));
    const m = draws.reduce((a, b) => a + b, 0) / N;
    const v = draws.reduce((a, b) => a + (b - m) ** 2, 0) / N;
    assert.ok(draws.every((d) => d >= 0));
    assert.ok(Math.abs(m - k) < 0.03 * Math.max(1, k), `mean ${m}`);
    assert.ok(Math.abs(v - k) < 0.08 * Math.max(1, k), `variance ${v}`);
  });
}

for (const [a, b] of [[1, 1], [0.2, 0.2], [2, 5], [0.5, 3]] as const) {
  test(`beta(${a}, ${b}) has mean ${a}/(${a}+${b}) and stays in [0, 1]`, () => {
    const rng = createRng(5);
    let sum = 0;
    for (let i = 0; i < N; i++) {
      const v = rng.beta(a, b);
      assert.ok(v >= 0 && v <= 1);
      sum += v;
    }
    assert.ok(Math.abs(sum / N - a / (a + b)) < 0.01, String(sum / N));
  });
}

test('createRng rejects seeds that are not uint32', () => {
  for (const seed of [-1, 2 ** 32, 1.5, Number.NaN]) {
    assert.throws(() => createRng(seed), { code: 'AUG_INVALID_PARAM' });
  }
  createRng(0);
  createRng(2 ** 32 - 1);
});

test('randomSeed gives uint32 seeds', () => {
  for (let i = 0; i < 100; i++) {
    const seed = randomSeed();
    assert.ok(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32);
  }
});
