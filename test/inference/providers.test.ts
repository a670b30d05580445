import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createSessionWithFallback, parseProviders } from '../../services/inference/providers.ts';
import { FIXTURE_REPOSITORY } from './helpers.ts';

const model = join(FIXTURE_REPOSITORY, 'tiny-gray', 'model.onnx');

test('parseProviders reads the list and the CUDA device', () => {
  assert.deepEqual(parseProviders(), [{ name: 'cuda' }, { name: 'cpu' }]);
  assert.deepEqual(parseProviders(' CUDA , cpu ', '1'), [{ name: 'cuda', deviceId: 1 }, { name: 'cpu' }]);
  assert.deepEqual(parseProviders('cpu', '1'), [{ name: 'cpu' }]);
  assert.throws(() => parseProviders('cuda,gpu'), /EXECUTION_PROVIDERS/);
  assert.throws(() => parseProviders(''), /EXECUTION_PROVIDERS/);
  assert.throws(() => parseProviders('cuda', '-1'), /CUDA_DEVICE_ID/);
});

// This host has no CUDA libraries, so the fallback is exercised for real. On a GPU host CUDA
// would load and the test checks that instead.
test('cuda then cpu: a provider that fails is skipped with its reason, the next one serves', async () => {
  const { session, provider, failures } = await createSessionWithFallback(model, parseProviders('cuda,cpu'));
  try {
    if (provider === 'cuda') {
      assert.deepEqual(failures, []);
    } else {
      assert.equal(provider, 'cpu');
      assert.equal(failures.length, 1);
      assert.equal(failures[0]!.provider, 'cuda');
      assert.ok(failures[0]!.reason.length > 0);
    }
    assert.deepEqual(session.inputNames, ['input']);
  } finally {
    await session.release();
  }
});

test('every provider failing throws with every reason', async () => {
  await assert.rejects(createSessionWithFallback(join(FIXTURE_REPOSITORY, 'tiny-gray', 'config.json'), parseProviders('cpu')), /no execution provider could load .*cpu:/);
});
