/** Row-wise softmax of logits [n, k] (flat, row-major). */
export function softmax(logits: Float32Array, k: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length; r += k) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[r + j]);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += (out[r + j] = Math.exp(logits[r + j] - max));
    for (let j = 0; j < k; j++) out[r + j] /= sum;
  }
  return out;
}

export function argmaxRows(scores: Float32Array, k: number): Int32Array {
  const out = new Int32Array(scores.length / k);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (scores[i * k + j] > scores[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}

/** Soft voting: weighted mean of member probabilities. */
export function softVote(probs: Float32Array[], weights: number[], k: number): Int32Array {
  const total = weights.reduce((a, b) => a + b, 0);
  const acc = new Float32Array(probs[0].length);
  probs.forEach((p, m) => { for (let i = 0; i < p.length; i++) acc[i] += (weights[m] / total) * p[i]; });
  return argmaxRows(acc, k);
}

/** Hard voting: weighted count of member top-1 votes; ties go to the higher soft score. */
export function hardVote(probs: Float32Array[], weights: number[], k: number): Int32Array {
  const n = probs[0].length / k;
  const votes = new Float32Array(n * k);
  probs.forEach((p, m) => {
    const top = argmaxRows(p, k);
    for (let i = 0; i < n; i++) votes[i * k + top[i]] += weights[m];
  });
  const soft = new Float32Array(n * k);
  probs.forEach((p) => { for (let i = 0; i < p.length; i++) soft[i] += p[i] * 1e-6; });
  for (let i = 0; i < votes.length; i++) votes[i] += soft[i] / probs.length;
  return argmaxRows(votes, k);
}

export function accuracy(pred: Int32Array, labels: Uint8Array): number {
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) ok++;
  return ok / pred.length;
}
