import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { Gauge } from 'prom-client';
import metricsPlugin, { UNMATCHED_ROUTE } from '../../services/shared/metrics.ts';

async function buildApp(prefix?: string): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(metricsPlugin, prefix === undefined ? {} : { prefix });
  app.get('/v1/augment/:op', async (request) => ({ op: (request.params as { op: string }).op }));
  app.get('/boom', async (_request, reply) => reply.code(503).send({ busy: true }));
  await app.ready();
  return app;
}

/** The value of one sample line `name{labels} value`, matched on the name and every given label. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.lastIndexOf('}'));
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

async function scrape(app: FastifyInstance): Promise<string> {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200);
  return res.body;
}

test('GET /metrics answers in the Prometheus text format', async (t) => {
  const app = await buildApp();
  t.after(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
  assert.match(res.body, /^# HELP http_requests_total /m);
  assert.match(res.body, /^# TYPE http_request_duration_seconds histogram$/m);
});

test('default Node metrics, event-loop lag included, are served', async (t) => {
  const app = await buildApp();
  t.after(() => app.close());
  const body = await scrape(app);
  for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'process_cpu_seconds_total', 'nodejs_heap_size_used_bytes']) {
    assert.match(body, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
});

test('requests are counted under the route pattern, never the raw URL', async (t) => {
  const app = await buildApp();
  t.after(() => app.close());
  await app.inject({ method: 'GET', url: '/v1/augment/rotate' });
  await app.inject({ method: 'GET', url: '/v1/augment/flip' });
  await app.inject({ method: 'GET', url: '/boom' });
  const body = await scrape(app);
  const ok = { method: 'GET', route: '/v1/augment/:op', status: '200' };
  assert.equal(sample(body, 'http_requests_total', ok), 2);
  assert.equal(sample(body, 'http_requests_total', { route: '/boom', status: '503' }), 1);
  assert.equal(sample(body, 'http_request_duration_seconds_count', ok), 2);
  assert.equal(sample(body, 'http_request_duration_seconds_bucket', { ...ok, le: '+Inf' }), 2);
  assert.doesNotMatch(body, /route="\/v1\/augment\/rotate"/);
});

test('404s are labelled unmatched', async (t) => {
  const app = await buildApp();
  t.after(() => app.close());
  await app.inject({ method: 'GET', url: '/wp-admin/setup.php' });
  const body = await scrape(app);
  assert.equal(sample(body, 'http_requests_total', { route: UNMATCHED_ROUTE, status: '404' }), 1);
  assert.doesNotMatch(body, /wp-admin/);
});

test('/metrics is public: scrapers carry no API key', async (t) => {
  const app = Fastify();
  t.after(() => app.close());
  await app.register(metricsPlugin);
  let config: { public?: boolean } | undefined;
  app.addHook('onRequest', async (request) => {
    config = request.routeOptions.config;
  });
  await app.ready();
  await scrape(app);
  assert.equal(config?.public, true);
});

test('/metrics does not count itself', async (t) => {
  const app = await buildApp();
  t.after(() => app.close());
  await scrape(app);
  const body = await scrape(app);
  assert.doesNotMatch(body, /route="\/metrics"/);
});

test('services register their own metrics, prefixed, and get the same one back by name', async (t) => {
  const app = await buildApp('augserve_');
  t.after(() => app.close());
  const opTime = app.metrics.histogram({ name: 'augment_operation_duration_seconds', help: 'Time per operation.', labelNames: ['op'] as const });
  opTime.observe({ op: 'rotate' }, 0.02);
  assert.equal(app.metrics.histogram('augment_operation_duration_seconds', 'again', ['op']), opTime);
  const batch = app.metrics.histogram('inference_batch_size', 'Images per batch.', ['model'], [1, 2, 4, 8]);
  batch.observe({ model: 'resnet' }, 3);
  const ep = app.metrics.gauge({ name: 'inference_execution_provider', help: 'Execution provider per model.', labelNames: ['model', 'provider'] as const });
  ep.set({ model: 'resnet', provider: 'cpu' }, 1);
  assert.ok(ep instanceof Gauge);
  assert.ok(app.metrics.registry.getSingleMetric('augserve_inference_execution_provider'));
  assert.throws(() => app.metrics.counter({ name: 'inference_execution_provider', help: 'wrong kind' }), TypeError);

  const body = await scrape(app);
  assert.equal(sample(body, 'augserve_augment_operation_duration_seconds_count', { op: 'rotate' }), 1);
  assert.equal(sample(body, 'augserve_inference_execution_provider', { model: 'resnet', provider: 'cpu' }), 1);
  assert.equal(sample(body, 'augserve_inference_batch_size_bucket', { model: 'resnet', le: '4' }), 1);
  assert.equal(sample(body, 'augserve_inference_batch_size_bucket', { model: 'resnet', le: '2' }), 0);
  assert.match(body, /^# TYPE augserve_http_requests_total counter$/m);
  assert.match(body, /^# TYPE augserve_nodejs_eventloop_lag_seconds gauge$/m);
});

test('each app has its own registry, so several apps coexist in one process', async (t) => {
  const a = await buildApp();
  const b = await buildApp();
  t.after(async () => {
    await a.close();
    await b.close();
  });
  assert.notEqual(a.metrics.registry, b.metrics.registry);
  await a.inject({ method: 'GET', url: '/boom' });
  assert.equal(sample(await scrape(a), 'http_requests_total', { route: '/boom' }), 1);
  assert.equal(sample(await scrape(b), 'http_requests_total', { route: '/boom' }), undefined);
});

test('closing the app releases its metrics', async () => {
  const app = await buildApp();
  app.metrics.counter({ name: 'x_total', help: 'x' });
  await app.close();
  assert.equal(app.metrics.registry.getMetricsAsArray().length, 0);
});
