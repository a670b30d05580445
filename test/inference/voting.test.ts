import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argmax, hardVote, softVote, softmax, topK, weightedVote } from '../../services/inference/voting.ts';

const close = (actual: ArrayLike<number>, expected: number[], eps = 1e-9) => {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i]! - e) < eps, `index ${i}: ${actual[i]} != ${e}`));
};

test('softmax is stable for large logits and sums to one', () => {
  close(softmax([0, 0]), [0.5, 0.5], 1e-7);
  const p = softmax([1000, 1001, 1002]);
  close(p, [0.09003057, 0.24472847, 0.66524096], 1e-6);
  assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-6);
});

test('topK orders by score, then tie-break, then index', () => {
  assert.deepEqual(topK([0.1, 0.7, 0.2], 2), [1, 2]);
  assert.deepEqual(topK([0.5, 0.5, 0], 3), [0, 1, 2]);
  assert.deepEqual(topK([0.5, 0.5, 0], 3, [0.1, 0.9, 0]), [1, 0, 2]);
  assert.deepEqual(topK([1, 2], 10), [1, 0]);
  assert.equal(argmax([0.3, 0.3, 0.1]), 0);
});

const agree = [[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1]];
const disagree = [[0.9, 0.05, 0.05], [0.1, 0.6, 0.3], [0.2, 0.5, 0.3]];

for (const { name, probs, soft } of [
  { name: 'agreement', probs: agree, soft: [0.6, 0.3, 0.1] },
  { name: 'disagreement', probs: disagree, soft: [0.4, 0.38333333333, 0.21666666667] },
]) {
  test(`softVote averages members (${name})`, () => close(softVote(probs), soft, 1e-9));
}

test('soft and hard voting can disagree: one confident member outweighs two lukewarm ones', () => {
  assert.equal(argmax(softVote(disagree)), 0);
  const hard = hardVote(disagree);
  assert.deepEqual(hard.votes, [1, 2, 0]);
  close(hard.probabilities, [1 / 3, 2 / 3, 0]);
  assert.deepEqual(topK(hard.probabilities, 3, hard.summed), [1, 0, 2]);
});

test('hardVote breaks a tie in votes by summed probability', () => {
  // Label 0 and 1 get one vote each; label 1 has the larger summed probability.
  const hard = hardVote([[0.5, 0.4, 0.1], [0.1, 0.8, 0.1]]);
  assert.deepEqual(hard.votes, [1, 1, 0]);
  close(hard.summed, [0.6, 1.2, 0.2]);
  assert.deepEqual(topK(hard.probabilities, 3, hard.summed), [1, 0, 2]);
});

test('hardVote: a three-way split ranks by summed probability', () => {
  const hard = hardVote([[0.4, 0.3, 0.3], [0.3, 0.4, 0.3], [0.1, 0.2, 0.7]]);
  assert.deepEqual(hard.votes, [1, 1, 1]);
  assert.deepEqual(topK(hard.probabilities, 3, hard.summed), [2, 1, 0]);
});

test('weightedVote normalises weights and equals softVote with equal weights', () => {
  close(weightedVote(disagree, [1, 1, 1]), softVote(disagree));
  close(weightedVote(disagree, [2, 1, 1]), weightedVote(disagree, [0.5, 0.25, 0.25]));
  close(weightedVote(disagree, [0, 1, 0]), disagree[1]!);
  close(weightedVote(disagree, [2, 1, 1]), [0.525, 0.3, 0.175]);
});

test('voting rejects malformed input', () => {
  assert.throws(() => softVote([]), RangeError);
  assert.throws(() => softVote([[0.5, 0.5], [1]]), RangeError);
  assert.throws(() => weightedVote(agree, [1, 1]), RangeError);
  assert.throws(() => weightedVote(agree, [0, 0, 0]), RangeError);
  assert.throws(() => weightedVote(agree, [1, -1, 1]), RangeError);
  assert.throws(() => hardVote([]), RangeError);
});
