import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ajv } from '../../services/shared/form.ts';
import { componentSchema } from '../../services/shared/openapi.ts';
import { form } from '../helpers/form.ts';
import { makeImage } from '../helpers/images.ts';
import { buildTestApp } from './helpers.ts';

/** Asserts that a body matches a `components.schemas` entry of openapi.yaml. */
function conforms(body: unknown, schema: string) {
  const validate = ajv.compile(componentSchema(schema));
  assert.ok(validate(body), `${schema}: ${JSON.stringify(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`);
}

describe('inference answers match the schemas of openapi.yaml', () => {
  let app: FastifyInstance;
  let photo: Buffer;
  before(async () => {
    app = await buildTestApp();
    photo = await makeImage(40, 30);
  });
  after(() => app.close());

  test('GET /v1/models and /v1/models/{name}', async () => {
    conforms((await app.inject('/v1/models')).json(), 'ModelList');
    conforms((await app.inject('/v1/models/tiny-rgb')).json(), 'ModelInfo');
  });

  test('classify with a model and with an ensemble (every voting)', async () => {
    const model = await app.inject({ method: 'POST', url: '/v1/models/tiny-gray/classify', body: form({ image: [photo, photo], tta: 'true' }) });
    conforms(model.json(), 'ClassifyResult');
    for (const voting of ['soft', 'hard', 'weighted']) {
      const res = await app.inject({ method: 'POST', url: '/v1/ensembles/default/classify', body: form({ image: photo, voting }) });
      assert.equal(res.statusCode, 200, res.body);
      conforms(res.json(), 'EnsembleClassifyResult');
    }
  });

  test('problems, and the Open Inference Protocol answers', async () => {
    conforms((await app.inject('/v1/models/nope')).json(), 'Problem');
    conforms((await app.inject('/v2')).json(), 'V2ServerMetadata');
    conforms((await app.inject('/v2/health/ready')).json(), 'V2Ready');
    conforms((await app.inject('/v2/models/tiny-gray')).json(), 'V2ModelMetadata');
    conforms((await app.inject('/v2/models/nope')).json(), 'V2Error');
    const infer = await app.inject({ method: 'POST', url: '/v2/models/tiny-gray/infer', payload: { inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: new Array(784).fill(0.5) }] } });
    conforms(infer.json(), 'V2InferResponse');
    conforms((await app.inject('/health/ready')).json(), 'Health');
  });
});
