import type { FastifyInstance } from 'fastify';
import type { IntakeLimits } from '../../shared/intake.ts';
import { classifyWithEnsemble, classifyWithModel, type StageTimer } from '../classifier.ts';
import { checkVersion, modelRef } from '../data-plane.ts';
import type { InferenceConfig } from '../config.ts';
import type { components } from '../../shared/api-types.ts';
import { classifyContract, readClassifyRequest, type ClassifyInput } from './intake.ts';

type Schemas = components['schemas'];
/** Validated fields; defaults are applied below, not by the validator. */
type ClassifyFields = Partial<Schemas['ClassifyFields']>;
type EnsembleFields = ClassifyFields & Partial<Schemas['EnsembleFields']>;

type NameParams = { Params: { name: string } };
type VersionParams = { Params: { name: string; version: string } };

/** `/v1/models…` and `/v1/ensembles…`: listing and classification, as openapi.yaml describes them. */
export default async function modelRoutes(app: FastifyInstance, options: { config: InferenceConfig }) {
  const { config } = options;
  const limits: IntakeLimits = {
    fileBytes: config.maxFileBytes,
    files: config.maxImagesPerRequest,
    fieldBytes: config.maxFieldBytes,
    fields: config.maxFields,
    inputPixels: config.maxInputPixels,
  };
  const modelContract = classifyContract('classifyWithModel');
  const ensembleContract = classifyContract('classifyWithEnsemble');

  let timer: StageTimer | undefined;
  if (app.hasDecorator('metrics')) {
    const stages = app.metrics.histogram('inference_stage_duration_seconds', 'Time per request stage (preprocess, run incl. queueing, postprocess) per model or ensemble.', ['model', 'stage']);
    timer = (model, stage, seconds) => stages.observe({ model, stage }, seconds);
  }
  const images = app.hasDecorator('metrics') ? app.metrics.counter('inference_images_total', 'Images classified, per model or ensemble.', ['model']) : undefined;
  const common = (input: ClassifyInput) => {
    const fields = input.fields as ClassifyFields;
    return { topK: fields.top_k ?? 5, tta: fields.tta ?? false, maxPixels: config.maxInputPixels, sizes: input.sizes, timer };
  };

  app.get('/v1/models', async () => ({ models: app.models.list(), ensembles: app.models.ensembles() }) satisfies Schemas['ModelList']);

  app.get<NameParams>('/v1/models/:name', async (request) => app.models.metadata(request.params.name) satisfies Schemas['ModelInfo']);

  // Operator endpoints: the access plugin asks for a key on every `admin` route, API_KEYS set or not.
  app.post<NameParams>('/v1/models/:name/load', { config: { admin: true } }, async (request) => {
    const model = await app.models.reload(request.params.name);
    request.log.info({ model: model.name, provider: model.execution_provider }, 'model loaded by an operator');
    return model satisfies Schemas['ModelInfo'];
  });

  app.post<NameParams>('/v1/models/:name/unload', { config: { admin: true } }, async (request) => {
    await app.models.unload(request.params.name);
    request.log.info({ model: request.params.name }, 'model unloaded by an operator');
    return app.models.metadata(request.params.name) satisfies Schemas['ModelInfo'];
  });

  app.post<NameParams>('/v1/models/:name/classify', { bodyLimit: config.maxJsonBytes }, async (request) => {
    app.models.get(request.params.name); // 404 / 503 before reading the upload
    const input = await readClassifyRequest(request, modelContract, limits);
    const result = await classifyWithModel(app.models, request.params.name, input.images, common(input));
    images?.inc({ model: request.params.name }, input.images.length);
    return result satisfies Schemas['ClassifyResult'];
  });

  // One version of a model; `model` in the answer is then `name:version`, as ensembles pin members.
  app.post<VersionParams>('/v1/models/:name/versions/:version/classify', { bodyLimit: config.maxJsonBytes }, async (request) => {
    const { name, version } = request.params;
    checkVersion(app.models, name, version);
    const ref = modelRef(name, version);
    app.models.get(ref);
    const input = await readClassifyRequest(request, modelContract, limits);
    const result = await classifyWithModel(app.models, ref, input.images, common(input));
    images?.inc({ model: name }, input.images.length);
    return result satisfies Schemas['ClassifyResult'];
  });

  app.post<NameParams>('/v1/ensembles/:name/classify', { bodyLimit: config.maxJsonBytes }, async (request) => {
    app.models.getEnsemble(request.params.name);
    const input = await readClassifyRequest(request, ensembleContract, limits);
    const fields = input.fields as EnsembleFields;
    const result = await classifyWithEnsemble(app.models, request.params.name, input.images, {
      ...common(input),
      voting: fields.voting ?? 'soft',
      models: fields.models,
      weights: fields.weights,
    });
    images?.inc({ model: request.params.name }, input.images.length);
    return result satisfies Schemas['EnsembleClassifyResult'];
  });
}
