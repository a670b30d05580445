import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelConfigError, selectModelFile, validateEnsembleConfig, validateModelConfig } from '../../services/inference/model-config.ts';
import { readInferenceConfig } from '../../services/inference/config.ts';

const SHA = 'a'.repeat(64);

/** A torchvision ImageNet classifier, the shape the format must be able to describe. */
const imagenet = () => ({
  name: 'resnet50-imagenet', version: '2', architecture: 'torchvision resnet50', file: 'model.onnx', sha256: SHA,
  input: { name: 'input', shape: [-1, 3, 224, 224], datatype: 'FP32', layout: 'NCHW' },
  output: { name: 'logits', shape: [-1, 1000], kind: 'logits' },
  preprocess: { channels: 3, resize: 256, crop: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  labels: Array.from({ length: 1000 }, (_, i) => `class ${i}`),
  variants: { fp16: { file: 'model.fp16.onnx', sha256: 'B'.repeat(64) } },
});

test('a torchvision ImageNet model (resize 256, crop 224) is describable', () => {
  const config = validateModelConfig(imagenet(), '/srv/models/resnet50');
  assert.equal(config.preprocess.resize, 256);
  assert.equal(config.input.layout, 'NCHW');
  assert.equal(config.dir, '/srv/models/resnet50');
  assert.deepEqual(selectModelFile(config, 'fp16'), { file: 'model.fp16.onnx', sha256: 'b'.repeat(64), variant: 'fp16' });
  assert.deepEqual(selectModelFile(config, 'int8'), { file: 'model.onnx', sha256: SHA });
});

const broken: [string, (c: any) => void, RegExp][] = [
  ['file escapes the folder', (c) => (c.file = '../other/model.onnx'), /model resnet50-imagenet: expected a path inside the model's folder for file/],
  ['absolute file', (c) => (c.file = '/etc/passwd'), /for file/],
  ['variant escapes', (c) => (c.variants.fp16.file = '../../x.onnx'), /for variants\.fp16\.file/],
  ['bad sha', (c) => (c.sha256 = 'xyz'), /expected a 64-digit hex sha256 .* for sha256, got "xyz"/],
  ['no sha', (c) => delete c.sha256, /for sha256, got undefined/],
  ['layout', (c) => (c.input.layout = 'CHW'), /one of NCHW, NHWC for input\.layout/],
  ['shape rank', (c) => (c.input.shape = [3, 224, 224]), /rank-4 shape .* for input\.shape/],
  ['shape vs preprocess', (c) => (c.preprocess.crop = 200), /for input\.shape/],
  ['crop over resize', (c) => (c.preprocess.crop = 300), /<= preprocess\.resize \(256\) for preprocess\.crop/],
  ['channels', (c) => (c.preprocess.channels = 2), /1 or 3 for preprocess\.channels/],
  ['mean length', (c) => (c.preprocess.mean = [0.5]), /3 finite number\(s\) for preprocess\.mean/],
  ['std zero', (c) => (c.preprocess.std = [0.2, 0, 0.2]), /positive finite .* for preprocess\.std/],
  ['labels vs output', (c) => c.labels.pop(), /\[-1, 999\] .* for output\.shape/],
  ['output kind', (c) => (c.output.kind = 'scores'), /logits, probabilities for output\.kind/],
  ['name in URLs', (c) => (c.name = 'a/b'), /for name/],
];
for (const [what, edit, message] of broken) {
  test(`config error names the model and the field: ${what}`, () => {
    const config = imagenet();
    edit(config);
    assert.throws(() => validateModelConfig(config, '/srv/models/resnet50'), (error: unknown) => {
      assert.ok(error instanceof ModelConfigError);
      assert.match(error.message, message);
      return true;
    });
  });
}

test('optional fields may be null', () => {
  const config = { ...imagenet(), accuracy: null, parameters: null, training: null, variants: null };
  const parsed = validateModelConfig(config, '/m');
  assert.equal(parsed.accuracy, undefined);
  assert.deepEqual(parsed.variants, {});
});

test('NHWC shapes are read channels-last', () => {
  const config = imagenet();
  config.input = { name: 'input', shape: [-1, 224, 224, 3], datatype: 'FP32', layout: 'NHWC' };
  assert.equal(validateModelConfig(config, '/m').input.layout, 'NHWC');
});

test('ensemble configs: defaults, weights and member checks', () => {
  assert.deepEqual(validateEnsembleConfig({ members: ['a', 'b'] }, 'pair'), { name: 'pair', members: ['a', 'b'], voting: 'soft', weights: [1, 1] });
  assert.deepEqual(validateEnsembleConfig({ name: 'w', members: ['a', 'b'], voting: 'weighted', weights: [2, 1] }, 'x').weights, [2, 1]);
  assert.throws(() => validateEnsembleConfig({ members: ['a', 'a'] }, 'dup'), /members/);
  assert.throws(() => validateEnsembleConfig({ members: ['a', 'b'], weights: [1] }, 'w'), /weights/);
  assert.throws(() => validateEnsembleConfig({ members: ['a'], weights: [0] }, 'w'), /weights/);
  assert.throws(() => validateEnsembleConfig({ members: ['a'], voting: 'rank' }, 'v'), /voting/);
});

test('config: defaults, batching off, and errors naming the variable', () => {
  const s = readInferenceConfig({});
  assert.equal(s.maxBatchSize, 32);
  assert.equal(s.maxBatchDelayMs, 2);
  assert.equal(s.port, 3002);
  assert.equal(s.modelRepository, 'models');
  assert.deepEqual(s.providers, [{ name: 'cuda', deviceId: 0 }, { name: 'cpu' }]);
  assert.ok(s.maxImagesPerRequest >= 64);
  const off = readInferenceConfig({ DYNAMIC_BATCHING: 'false', MAX_BATCH_SIZE: '16' });
  assert.equal(off.maxBatchSize, 1);
  assert.equal(off.maxBatchDelayMs, 0);
  assert.equal(readInferenceConfig({ MAX_BATCH_SIZE: '1' }).maxBatchSize, 1);
  assert.deepEqual(readInferenceConfig({ EXECUTION_PROVIDERS: 'cpu' }).providers, [{ name: 'cpu' }]);
  assert.deepEqual(readInferenceConfig({ CUDA_DEVICE_ID: '1' }).providers[0], { name: 'cuda', deviceId: 1 });
  assert.throws(() => readInferenceConfig({ MAX_BATCH_SIZE: '0' }), /MAX_BATCH_SIZE/);
  assert.throws(() => readInferenceConfig({ INFERENCE_WORKERS: 'two' }), /INFERENCE_WORKERS/);
  assert.throws(() => readInferenceConfig({ DYNAMIC_BATCHING: 'maybe' }), /DYNAMIC_BATCHING/);
  assert.throws(() => readInferenceConfig({ EXECUTION_PROVIDERS: 'cuda,gpu' }), /EXECUTION_PROVIDERS/);
  assert.throws(() => readInferenceConfig({ MAX_QUEUE: '10', MAX_IMAGES_PER_REQUEST: '64' }), /MAX_QUEUE/);
});
