import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { sendProblem } from './problem.ts';

export interface AccessOptions {
  /** Code prefix of the service: `AUG` or `INF`. */
  prefix: string;
  /** When non-empty, every route that is not public needs one of these keys. */
  apiKeys: string[];
  /** Requests per minute per key (or per IP without one); 0 = off. */
  ratePerMinute: number;
  /** Requests handled at once; the next ones get 503 with Retry-After. */
  maxConcurrent: number;
  /** Event-loop delay (ms) beyond which requests get 503; 0 = off. */
  maxEventLoopDelayMs?: number;
}

/** Paths always open: probes, the docs and metrics scrapers must not need a key. */
const PUBLIC_PREFIXES = ['/health/', '/v2/health/', '/docs', '/metrics'];

function isPublic(request: FastifyRequest): boolean {
  if (request.routeOptions.config?.public) return true;
  const path = request.url.split('?')[0] ?? '';
  return path === '/' || PUBLIC_PREFIXES.some((prefix) => path.startsWith(prefix));
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** The key a request presents: `X-API-Key`, or `Authorization: Bearer <key>`. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header) return header;
  const auth = request.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
}

/**
 * Compare against every configured key in constant time (hashing first makes the lengths
 * equal, and the loop never stops early), so timing tells nothing about the keys.
 */
export function keyMatches(presented: string | undefined, keys: readonly Buffer[]): boolean {
  const candidate = digest(presented ?? '');
  let match = false;
  for (const key of keys) match = timingSafeEqual(candidate, key) || match;
  return presented !== undefined && match;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Operator endpoint: needs an API key even when `API_KEYS` is empty (it is then unusable). */
    admin?: boolean;
  }
}

/**
 * Access and overload control, in the order a request meets them: API key, rate limit,
 * concurrency bound (503 + Retry-After), event-loop pressure (503 + Retry-After).
 */
async function accessPlugin(app: FastifyInstance, options: AccessOptions) {
  const { prefix } = options;
  const keys = options.apiKeys.map(digest);

  app.addHook('onRequest', async (request, reply) => {
    const admin = request.routeOptions.config?.admin === true;
    if (!admin && (keys.length === 0 || isPublic(request))) return;
    if (keyMatches(presentedKey(request), keys)) return;
    reply.header('www-authenticate', 'Bearer');
    return sendProblem(reply, {
      status: 401,
      code: `${prefix}_UNAUTHORIZED`,
      detail: admin && keys.length === 0 ? 'admin endpoints need API_KEYS to be set' : 'a valid API key is needed (X-API-Key or Authorization: Bearer)',
    });
  });

  if (options.ratePerMinute > 0) {
    await app.register(rateLimit, {
      max: options.ratePerMinute,
      timeWindow: 60_000,
      allowList: (request) => isPublic(request),
      keyGenerator: (request) => {
        const key = presentedKey(request);
        return key ? `key:${digest(key).toString('hex')}` : `ip:${request.ip}`;
      },
      errorResponseBuilder: (_request, context) => ({
        statusCode: 429,
        code: `${prefix}_RATE_LIMITED`,
        message: `rate limit of ${context.max} requests per minute reached; retry in ${context.after}`,
      }),
    });
  }

  let inFlight = 0;
  const releases = new WeakMap<FastifyRequest, () => void>();
  app.addHook('onRequest', async (request, reply) => {
    if (isPublic(request)) return;
    if (inFlight >= options.maxConcurrent) {
      reply.header('retry-after', '1');
      return sendProblem(reply, { status: 503, code: `${prefix}_OVERLOADED`, detail: `more than ${options.maxConcurrent} requests in progress` });
    }
    inFlight++;
    // The slot is held until the work is done (the answer reaches onSend, error answers included)
    // and the connection is done with it ('close'). Releasing on 'close' alone let a client that
    // hangs up after uploading free its slot while its image was still being processed, so the
    // bound could be bypassed at will.
    let pending = 2;
    const release = () => {
      if (--pending === 0) inFlight--;
    };
    releases.set(request, release);
    reply.raw.once('close', release);
  });
  app.addHook('onSend', async (request, _reply, payload) => {
    const release = releases.get(request);
    if (release) {
      releases.delete(request);
      release();
    }
    return payload;
  });

  await app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs ?? 0,
    retryAfter: 1,
    pressureHandler: (request, reply, type, value) => {
      if (isPublic(request)) return;
      reply.header('retry-after', '1');
      sendProblem(reply, { status: 503, code: `${prefix}_OVERLOADED`, detail: `server under pressure (${type}: ${String(value)})` });
    },
  });
}

export default fp(accessPlugin, { name: 'augserve-access', fastify: '5.x', dependencies: ['augserve-problem'] });
