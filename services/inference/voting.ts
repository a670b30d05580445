/**
 * Combining per-model class probabilities into one prediction. Pure functions, no I/O: each takes
 * the members' probability vectors for ONE image (`memberProbs[m][label]`).
 */

export type Probabilities = ArrayLike<number>;

/** Hard voting: each member's top-1 is one vote. */
export interface HardVote {
  /** Votes per label. */
  votes: number[];
  /** Vote share per label (votes / members); the prediction's "probability". */
  probabilities: number[];
  /** Summed member probability per label, the tie-breaker for equal votes. */
  summed: number[];
}

function check(memberProbs: readonly Probabilities[]): number {
  const first = memberProbs[0];
  if (first === undefined) throw new RangeError('expected at least one member for memberProbs, got none');
  for (const p of memberProbs) {
    if (p.length !== first.length) throw new RangeError(`expected ${first.length} probabilities per member for memberProbs, got ${p.length}`);
  }
  return first.length;
}

/** Numerically stable softmax. @example softmax([0, 0]) // [0.5, 0.5] */
export function softmax(logits: Probabilities): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const out = new Float32Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/** Index of the largest value; the lowest index wins a tie. */
export function argmax(values: Probabilities): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * Indices of the k largest scores, best first. Equal scores are ordered by `tieBreak` (larger
 * first), then by index.
 * @example topK([0.1, 0.7, 0.2], 2) // [1, 2]
 */
export function topK(scores: Probabilities, k: number, tieBreak?: Probabilities): number[] {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b]! - scores[a]! || (tieBreak ? tieBreak[b]! - tieBreak[a]! : 0) || a - b);
  return order.slice(0, Math.max(0, k));
}

/** Mean of the members' probabilities. */
export function softVote(memberProbs: readonly Probabilities[]): number[] {
  return weightedVote(memberProbs, memberProbs.map(() => 1));
}

/**
 * Weighted mean of the members' probabilities; the weights are normalised, so [2, 1, 1] and
 * [0.5, 0.25, 0.25] agree. Weights must be finite, non-negative and not all zero.
 */
export function weightedVote(memberProbs: readonly Probabilities[], weights: readonly number[]): number[] {
  const n = check(memberProbs);
  if (weights.length !== memberProbs.length) {
    throw new RangeError(`expected ${memberProbs.length} weights (one per member) for weights, got ${weights.length}`);
  }
  if (weights.some((w) => !Number.isFinite(w) || w < 0)) throw new RangeError(`expected finite non-negative numbers for weights, got ${weights.join(',')}`);
  const total = weights.reduce((a, b) => a + b, 0);
  if (total === 0) throw new RangeError(`expected at least one positive weight for weights, got ${weights.join(',')}`);
  const out = new Array<number>(n).fill(0);
  memberProbs.forEach((p, m) => {
    const w = weights[m]! / total;
    for (let i = 0; i < n; i++) out[i]! += w * p[i]!;
  });
  return out;
}

/**
 * Majority of the members' top-1 labels. The winner is the label with most votes; a tie in votes is
 * broken by summed probability, and `topK(result.probabilities, k, result.summed)` orders the
 * whole ranking the same way.
 */
export function hardVote(memberProbs: readonly Probabilities[]): HardVote {
  const n = check(memberProbs);
  const votes = new Array<number>(n).fill(0);
  const summed = new Array<number>(n).fill(0);
  for (const p of memberProbs) {
    votes[argmax(p)]! += 1;
    for (let i = 0; i < n; i++) summed[i]! += p[i]!;
  }
  return { votes, probabilities: votes.map((v) => v / memberProbs.length), summed };
}
