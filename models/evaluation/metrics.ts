/**
 * Batch helpers for scoring flat [n, k] model outputs against the test labels. The per-image
 * arithmetic (softmax, argmax, ensemble voting) is the inference service's own, from
 * services/inference/voting.ts, so the evaluation scores exactly what is served.
 */
import { argmax, hardVote, softmax, topK, weightedVote, type Probabilities } from '../../services/inference/voting.ts';

/** The n rows of a flat row-major [n, k] array, as views (no copy). */
export function rows(flat: Float32Array, k: number): Float32Array[] {
  if (k <= 0 || flat.length % k !== 0) throw new RangeError(`expected a multiple of ${k} values for flat, got ${flat.length}`);
  return Array.from({ length: flat.length / k }, (_, i) => flat.subarray(i * k, (i + 1) * k));
}

/** Row-wise softmax of logits [n, k]: one probability vector per image. */
export function softmaxRows(logits: Float32Array, k: number): Float32Array[] {
  return rows(logits, k).map((row) => softmax(row));
}

/** Top-1 label of each row of scores [n, k]; the lowest index wins a tie. */
export function argmaxRows(scores: Float32Array, k: number): Int32Array {
  return Int32Array.from(rows(scores, k), (row) => argmax(row));
}

/**
 * Per-image ensemble predictions from each member's probability rows (`members[m][image]`):
 * `soft` is the top-1 of the weighted mean of the members' probabilities (the service's
 * `weighted` voting; its `soft` voting when the weights are equal), `hard` the service's hard
 * voting: the majority of the members' top-1 labels, ties broken by summed probability.
 */
export function ensemblePredictions(
  members: readonly (readonly Probabilities[])[], weights: readonly number[],
): { soft: Int32Array; hard: Int32Array } {
  const first = members[0];
  if (!first) throw new RangeError('expected at least one member for members, got none');
  const soft = new Int32Array(first.length);
  const hard = new Int32Array(first.length);
  for (let i = 0; i < first.length; i++) {
    const memberProbs = members.map((m) => {
      const p = m[i];
      if (!p) throw new RangeError(`expected ${first.length} images from every member, got ${m.length}`);
      return p;
    });
    soft[i] = argmax(weightedVote(memberProbs, weights));
    const vote = hardVote(memberProbs);
    hard[i] = topK(vote.votes, 1, vote.summed)[0]!;
  }
  return { soft, hard };
}

/** Fraction of predictions equal to their label. */
export function accuracy(pred: ArrayLike<number>, labels: ArrayLike<number>): number {
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) ok++;
  return ok / pred.length;
}
