import { randomBytes } from 'node:crypto';
import { InvalidParamError } from './errors.ts';

/**
 * A seeded source of randomness. Every draw an operation makes goes through one of these, so
 * that a request's seed fixes its result.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [a, b); exactly `a` when `a === b`, so a range `[v, v]` is the fixed value v. */
  uniform(a: number, b: number): number;
  /** Uniform integer in [minInclusive, maxExclusive). */
  int(minInclusive: number, maxExclusive: number): number;
  /** true with probability p. */
  bernoulli(p: number): boolean;
  /** exp(uniform(ln a, ln b)), for 0 < a <= b. */
  logUniform(a: number, b: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** Gamma(k, 1) for k > 0 (Marsaglia–Tsang). */
  gamma(k: number): number;
  /** Beta(a, b) for a, b > 0, as Gamma(a) / (Gamma(a) + Gamma(b)). */
  beta(a: number, b: number): number;
}

const UINT32 = 2 ** 32;
/** sfc32's authors advise discarding the first outputs so that similar seeds diverge. */
const WARM_UP_DRAWS = 15;

function splitmix32(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let t = state ^ (state >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
}

/**
 * A deterministic generator: splitmix32 expands the seed into the 128-bit state of sfc32
 * (passes PractRand and BigCrush, fast in 32-bit integer arithmetic).
 *
 * @example
 * const rng = createRng(42);
 * rng.uniform(-30, 30); // the same number on every run with seed 42
 */
export function createRng(seed: number): Rng {
  if (!Number.isInteger(seed) || seed < 0 || seed >= UINT32) {
    throw new InvalidParamError(`expected an integer in [0, ${UINT32 - 1}] for seed, got ${String(seed)}`);
  }
  const expand = splitmix32(seed);
  let a = expand();
  let b = expand();
  let c = expand();
  let d = expand();
  const next = (): number => {
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / UINT32;
  };
  for (let i = 0; i < WARM_UP_DRAWS; i++) next();

  // Always one draw, so narrowing a range to one value leaves every later draw where it was.
  const uniform = (lo: number, hi: number): number => lo + (hi - lo) * next();
  // 1 - next() lies in (0, 1], safe under a logarithm.
  const open = (): number => 1 - next();
  const normal = (): number => Math.sqrt(-2 * Math.log(open())) * Math.cos(2 * Math.PI * next());
  const gamma = (k: number): number => {
    if (!(k > 0)) throw new RangeError(`gamma shape must be > 0, got ${k}`);
    if (k < 1) return gamma(k + 1) * open() ** (1 / k);
    const dd = k - 1 / 3;
    const cc = 1 / Math.sqrt(9 * dd);
    for (;;) {
      const x = normal();
      let v = 1 + cc * x;
      if (v <= 0) continue;
      v = v * v * v;
      const u = open();
      if (u < 1 - 0.0331 * x ** 4) return dd * v;
      if (Math.log(u) < 0.5 * x * x + dd * (1 - v + Math.log(v))) return dd * v;
    }
  };

  return {
    next,
    uniform,
    int(minInclusive, maxExclusive) {
      if (!(maxExclusive > minInclusive)) {
        throw new RangeError(`empty integer range [${minInclusive}, ${maxExclusive})`);
      }
      return minInclusive + Math.floor(next() * (maxExclusive - minInclusive));
    },
    bernoulli: (p) => next() < p,
    logUniform(lo, hi) {
      const v = Math.exp(uniform(Math.log(lo), Math.log(hi)));
      return lo === hi ? lo : v; // exp(log(v)) need not give v back
    },
    normal,
    gamma,
    beta(alpha, betaShape) {
      const x = gamma(alpha);
      const y = gamma(betaShape);
      // Tiny shapes underflow both draws to 0; the Beta then sits on {0, 1} in these odds.
      if (x + y === 0) return next() < alpha / (alpha + betaShape) ? 1 : 0;
      return x / (x + y);
    },
  };
}

/** A seed for a request that did not send one (uniform uint32 from the OS's CSPRNG). */
export function randomSeed(): number {
  return randomBytes(4).readUInt32LE(0);
}
