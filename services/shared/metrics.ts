import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';

export interface MetricsOptions {
  /**
   * Prepended to every metric name the plugin or its helpers create, default metrics included
   * (`augserve_` gives `augserve_http_requests_total`). Empty by default.
   */
  prefix?: string;
}

/** Metric configuration for the helpers: prom-client's, less `registers` (the app's registry is implied). */
export type CounterOptions<L extends string> = Omit<CounterConfiguration<L>, 'registers'>;
export type GaugeOptions<L extends string> = Omit<GaugeConfiguration<L>, 'registers'>;
export type HistogramOptions<L extends string> = Omit<HistogramConfiguration<L>, 'registers'>;

/** What `fastify.metrics` holds. */
export interface Metrics {
  /** The app's own registry: everything `/metrics` serves except the per-process default metrics. */
  readonly registry: Registry;
  /** The prefix from the options, already applied by the helpers below; apply it yourself to metrics built by hand. */
  readonly prefix: string;
  /**
   * Creates a counter in the app's registry (name prefixed), or returns the one already there
   * under that name, so that a plugin registered twice does not throw. Takes prom-client's
   * configuration (less `registers`) or, for short calls, `(name, help, labelNames?)`.
   * @example const served = app.metrics.counter('inference_requests_total', 'Requests per model.', ['model']);
   */
  counter<L extends string>(options: CounterOptions<L>): Counter<L>;
  counter<L extends string>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  /** Gauge, same rules as `counter`. Example: `inference_queue_depth{model}`, `inference_execution_provider{model,provider}` set to 1. */
  gauge<L extends string>(options: GaugeOptions<L>): Gauge<L>;
  gauge<L extends string>(name: string, help: string, labelNames?: readonly L[]): Gauge<L>;
  /**
   * Histogram, same rules as `counter`, plus optional buckets; seconds for durations (`*_duration_seconds`).
   * @example
   * const opTime = app.metrics.histogram('augment_operation_duration_seconds', 'Time per operation.', ['op']);
   * const end = opTime.startTimer({ op: 'rotate' }); …; end();
   */
  histogram<L extends string>(options: HistogramOptions<L>): Histogram<L>;
  histogram<L extends string>(name: string, help: string, labelNames?: readonly L[], buckets?: number[]): Histogram<L>;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
  interface FastifyContextConfig {
    /** Open without an API key (health, docs, metrics); also declared by health.ts. */
    public?: boolean;
  }
}

/** Route label for requests no route matched, so that scanners' URLs never become label values. */
export const UNMATCHED_ROUTE = 'unmatched';
const METRICS_PATH = '/metrics';

/*
 * Default metrics describe the process, not one app, and prom-client's collector starts an
 * event-loop-delay monitor and a GC observer that it never stops. Collecting them once per
 * process (per prefix) keeps several apps in one process (tests) from stacking monitors and
 * from reporting the same process twice under different registries.
 */
const processRegistries = new Map<string, Registry>();
function processRegistry(prefix: string): Registry {
  let registry = processRegistries.get(prefix);
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix });
    processRegistries.set(prefix, registry);
  }
  return registry;
}

const metricsPlugin: FastifyPluginAsync<MetricsOptions> = async (fastify: FastifyInstance, opts: MetricsOptions) => {
  const prefix = opts.prefix ?? '';
  const registry = new Registry();
  const defaults = processRegistry(prefix);

  function getOrCreate<M>(kind: new (config: never) => M, config: { name: string }): M {
    const name = prefix + config.name;
    const existing = registry.getSingleMetric(name);
    if (existing) {
      if (!(existing instanceof kind)) {
        throw new TypeError(`expected a ${kind.name} for metric ${name}, got a ${existing.constructor.name}`);
      }
      return existing;
    }
    return new kind({ ...config, name, registers: [registry] } as never);
  }

  type Config = { name: string; help: string; labelNames?: readonly string[]; buckets?: number[] };
  const config = (first: Config | string, help?: string, labelNames?: readonly string[], buckets?: number[]): Config =>
    typeof first === 'string' ? { name: first, help: help ?? first, ...(labelNames && { labelNames }), ...(buckets && { buckets }) } : first;

  const metrics: Metrics = {
    registry,
    prefix,
    counter: (first: Config | string, help?: string, labelNames?: readonly string[]) => getOrCreate(Counter, config(first, help, labelNames)),
    gauge: (first: Config | string, help?: string, labelNames?: readonly string[]) => getOrCreate(Gauge, config(first, help, labelNames)),
    histogram: (first: Config | string, help?: string, labelNames?: readonly string[], buckets?: number[]) =>
      getOrCreate(Histogram, config(first, help, labelNames, buckets)),
  } as Metrics;

  const labelNames = ['method', 'route', 'status'] as const;
  const requests = metrics.counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code.',
    labelNames,
  });
  const duration = metrics.histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving the request to sending the response, by method, route pattern and status code.',
    labelNames,
  });

  fastify.decorate('metrics', metrics);

  fastify.addHook('onResponse', async (request, reply) => {
    const pattern = request.routeOptions.url;
    if (pattern === METRICS_PATH) return;
    const labels = {
      method: request.method,
      route: pattern ?? UNMATCHED_ROUTE,
      status: String(reply.statusCode),
    };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
  });

  // Public like the health routes: scrapers carry no API key; keep the port off the internet instead.
  fastify.get(METRICS_PATH, { config: { public: true } }, async (_request, reply) => {
    // Both registries end their text with a newline, so the two expositions concatenate cleanly.
    const body = (await registry.metrics()) + (await defaults.metrics());
    return reply.type(registry.contentType).send(body);
  });

  fastify.addHook('onClose', async () => {
    registry.clear();
  });
};

/**
 * Prometheus metrics for an augserve app: default Node metrics (event-loop lag included),
 * `http_requests_total` and `http_request_duration_seconds` labelled `{method, route, status}`
 * with the route pattern (`unmatched` when none matched), `GET /metrics` in the Prometheus text
 * format, and `app.metrics` for the service's own metrics. Register it on the root instance; it counts every route, whenever declared.
 * @example
 * await app.register(metricsPlugin, { prefix: '' });
 * const opTime = app.metrics.histogram({ name: 'augment_operation_duration_seconds', help: 'Time per operation.', labelNames: ['op'] as const });
 */
export default fp(metricsPlugin, { name: 'augserve-metrics', fastify: '5.x' });
