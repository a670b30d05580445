import { buildInferenceApp } from './app.ts';
import { inferenceSettings, readInferenceConfig } from './config.ts';
import { launch } from '../shared/launch.ts';

// Models load in the background: the server listens (and answers liveness) at once, and
// /health/ready turns 200 once every model is loaded and warmed up. The start line waits for
// them, to say which model runs on which provider.
// The gRPC service listens beside REST (INFERENCE_GRPC_PORT, 0 = off); it closes with the app.
await launch({
  name: 'inference',
  settings: inferenceSettings,
  readConfig: readInferenceConfig,
  build: (config) => buildInferenceApp(config, { awaitModels: false }),
  afterListen: async (app, config) => {
    if (config.grpcPort > 0) await app.grpc.listen(config.host, config.grpcPort);
  },
  async describe(app) {
    await app.models.settled();
    const models = Object.fromEntries(app.models.list().map((m) => [m.name, m.ready ? m.execution_provider : `not ready: ${m.reason}`]));
    return { models, ensembles: app.models.ensembles().map((e) => e.name) };
  },
});
