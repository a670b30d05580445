import cluster from 'node:cluster';
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import { ConfigError, effectiveSettings, type Settings } from './config.ts';
import { prioritiseEventLoop } from './priority.ts';

/**
 * Node server options that make REQUEST_TIMEOUT_MS hold for slow uploads. Fastify sets
 * `requestTimeout` on the server after creating it, which leaves Node's `headersTimeout` at 60 s,
 * above the request timeout; Node 20 then never expires a request whose body trickles in (a
 * slow-loris upload held its connection and a concurrency slot indefinitely). Given to the
 * constructor, the headers timeout is capped at the request timeout, and the check runs often
 * enough for the cut to come near the limit rather than up to 30 s after it.
 *
 * @example Fastify({ requestTimeout: ms, http: httpTimeouts(ms) })
 */
export function httpTimeouts(requestTimeoutMs: number) {
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: requestTimeoutMs > 0 ? Math.min(60_000, requestTimeoutMs) : 60_000,
    connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.ceil(requestTimeoutMs / 10))),
  };
}

type LaunchConfig = { host: string; port: number; shutdownGraceMs: number; poolNice?: number };

export interface LaunchOptions<C extends LaunchConfig> {
  name: string;
  readConfig(): C;
  build(config: C): Promise<FastifyInstance>;
  /** Starts what listens beside the HTTP server (inference's gRPC); a failure ends the process like a failed listen. */
  afterListen?(app: FastifyInstance, config: C): Promise<void>;
  /** Processes sharing the port (node:cluster); 1, the default, runs the service in this process. */
  processes?(config: C): number;
  /** The service's settings, to log the effective value of each in the start line. */
  settings: Settings;
  /** What the start line adds (models and providers); may wait until the service is ready. */
  describe?(app: FastifyInstance): Promise<Record<string, unknown>>;
}

/** Signals that ask the service to stop gracefully. */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
/** A stop signal this soon after the first is the same request delivered twice, not an operator insisting. */
const REPEATED_STOP_WINDOW_MS = 2000;

/**
 * Read the configuration, build the app, listen, and close gracefully on SIGTERM/SIGINT/SIGHUP:
 * the listening socket closes at once, requests already accepted (even mid-upload) finish,
 * and the process exits within the grace period. A further stop signal more than
 * REPEATED_STOP_WINDOW_MS after the first exits at once. Once listening, the process's threads
 * other than the event loop's are lowered to POOL_NICE (priority.ts).
 */
export async function launch<C extends LaunchConfig>(options: LaunchOptions<C>): Promise<void> {
  let config: C;
  try {
    config = options.readConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${options.name}: ${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const processes = options.processes?.(config) ?? 1;
  if (processes > 1 && cluster.isPrimary) return superviseWorkers(options.name, processes);
  const app = await options.build(config);
  // close-with-grace handles errors and the rare signals; stop signals are taken here, because
  // its rule (any second signal exits at once) drops every in-flight request when one stop
  // arrives twice: a terminal's Ctrl-C or a control-group kill signals the `npm start` launcher
  // and the service, and the launcher forwards its copy as well.
  const graceful = closeWithGrace({ delay: config.shutdownGraceMs, skip: [...STOP_SIGNALS] }, async ({ err }) => {
    if (err) app.log.error({ err }, 'closing after an uncaught error');
    await app.close();
  });
  let firstStopAt: number | undefined;
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (firstStopAt === undefined) {
        firstStopAt = Date.now();
        app.log.info({ signal }, 'closing: finishing in-flight requests');
        void graceful.close();
      } else if (Date.now() - firstStopAt < REPEATED_STOP_WINDOW_MS) {
        app.log.info({ signal }, 'already closing; repeated stop signal ignored');
      } else {
        app.log.error({ signal }, 'second stop signal while closing, exiting now');
        process.exit(1);
      }
    });
  }
  const address = await app.listen({ host: config.host, port: config.port });
  await options.afterListen?.(app, config);
  await prioritiseEventLoop(config.poolNice ?? 0, app.log);
  // The start log ends with one line that says everything an operator checks first.
  const details = (await options.describe?.(app)) ?? {};
  app.log.info({ address, ...details, settings: effectiveSettings(options.settings, config) }, `${options.name} started at ${address}`);
}

/**
 * The primary of a cluster: forks `count` copies of this service, which share its port (the
 * primary accepts and hands connections round-robin), passes stop signals on, and exits once they
 * have all stopped. A copy that dies unasked stops the others and fails the whole, as `npm start`
 * does for a service: the process manager restarts one thing, not a half-running set.
 */
function superviseWorkers(name: string, count: number): Promise<void> {
  let stopping = false;
  let exitCode = 0;
  const stopAll = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) if (worker && !worker.isDead()) worker.process.kill(signal);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, () => stopAll(signal === 'SIGHUP' ? 'SIGTERM' : signal));
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      process.stderr.write(`${name}: process ${worker.process.pid} exited with ${code ?? signal}; stopping the others\n`);
      exitCode = code || 1;
      stopAll('SIGTERM');
    }
    if (Object.values(cluster.workers ?? {}).every((w) => !w || w.isDead())) process.exit(exitCode);
  });
  for (let i = 0; i < count; i++) cluster.fork();
  return Promise.resolve();
}
