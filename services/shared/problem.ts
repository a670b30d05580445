import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Problem } from './errors.ts';

export interface ProblemOptions {
  /** Code prefix of the service: `AUG` or `INF`. */
  prefix: string;
}

/**
 * Fastify's own error codes mapped to the service's stable codes. Anything the framework
 * raises about the request itself is the client's problem (4xx), never a 500.
 */
const FRAMEWORK_CODES: Record<string, [status: number, code: string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'INVALID_REQUEST'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'INVALID_REQUEST'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'PAYLOAD_TOO_LARGE'],
  FST_ERR_CTP_INVALID_TYPE: [400, 'INVALID_REQUEST'],
  FST_ERR_CTP_EMPTY_TYPE: [400, 'INVALID_REQUEST'],
  FST_ERR_VALIDATION: [400, 'INVALID_PARAM'],
  FST_INVALID_MULTIPART_CONTENT_TYPE: [415, 'UNSUPPORTED_MEDIA'],
  FST_INVALID_JSON_FIELD_ERROR: [400, 'INVALID_REQUEST'],
  FST_PROTO_VIOLATION: [400, 'INVALID_REQUEST'],
  FST_REQ_FILE_TOO_LARGE: [413, 'PAYLOAD_TOO_LARGE'],
  FST_FILES_LIMIT: [413, 'PAYLOAD_TOO_LARGE'],
  FST_FIELDS_LIMIT: [413, 'PAYLOAD_TOO_LARGE'],
  FST_PARTS_LIMIT: [413, 'PAYLOAD_TOO_LARGE'],
  FST_MP_PREMATURE_CLOSE: [400, 'INVALID_REQUEST'],
};

/** Send a problem+json answer. */
export function sendProblem(reply: FastifyReply, problem: Omit<Problem, 'type' | 'title'> & { title?: string; [extra: string]: unknown }) {
  const body: Problem & Record<string, unknown> = {
    type: `urn:augserve:problem:${problem.code.toLowerCase()}`,
    title: problem.title ?? titleFor(problem.status),
    ...problem,
  };
  return reply.code(problem.status).type('application/problem+json').send(body);
}

function titleFor(status: number): string {
  const titles: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    404: 'Not Found',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
    422: 'Unprocessable Content',
    429: 'Too Many Requests',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
  };
  return titles[status] ?? (status >= 500 ? 'Internal Server Error' : 'Error');
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP server refuses before a route sees the request
 * (broken framing, headers over Node's size limit, a request not complete within
 * REQUEST_TIMEOUT_MS) answered as problem+json like every other refusal, then the socket closed.
 * @example Fastify({ clientErrorHandler: clientErrorHandler('AUG') })
 */
export function clientErrorHandler(prefix: string) {
  return function onClientError(error: Error & { code?: string }, socket: Duplex): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, code, detail]: [number, string, string] =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', 'the request did not arrive whole within the request timeout']
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'INVALID_REQUEST', 'the request headers are over the size limit']
          : [400, 'INVALID_REQUEST', `malformed HTTP request (${error.code ?? 'parse error'})`];
    const stableCode = `${prefix}_${code}`;
    const title = STATUS_CODES[status] ?? 'Error';
    const body = JSON.stringify({ type: `urn:augserve:problem:${stableCode.toLowerCase()}`, title, status, detail, code: stableCode });
    // Headers already sent (a reply under way when the timeout fired): nothing more can be said.
    if (socket.writable && !(socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      socket.write(
        `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(error);
  };
}

/**
 * Turns every error into problem+json with a stable code, and unknown routes into 404s.
 * Errors with the service's prefix carry their own code and status; framework errors are
 * mapped; anything else is a 500 `<PREFIX>_INTERNAL`, logged with its stack.
 */
async function problemPlugin(app: FastifyInstance, options: ProblemOptions) {
  const { prefix } = options;

  app.setErrorHandler((error: FastifyError & { param?: string; headers?: Record<string, string> }, request: FastifyRequest, reply: FastifyReply) => {
    const code = error.code ?? '';
    const mapped = FRAMEWORK_CODES[code];
    let status: number;
    let stableCode: string;
    if (code.startsWith(`${prefix}_`) && error.statusCode) {
      status = error.statusCode;
      stableCode = code;
    } else if (mapped) {
      [status, stableCode] = [mapped[0], `${prefix}_${mapped[1]}`];
    } else if (error.validation) {
      [status, stableCode] = [400, `${prefix}_INVALID_PARAM`];
    } else if (error.statusCode === 429) {
      [status, stableCode] = [429, `${prefix}_RATE_LIMITED`];
    } else if (error.statusCode === 503) {
      [status, stableCode] = [503, `${prefix}_OVERLOADED`];
    } else if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      [status, stableCode] = [error.statusCode, `${prefix}_INVALID_REQUEST`];
    } else {
      [status, stableCode] = [500, `${prefix}_INTERNAL`];
    }
    // 503 and 504 are answers the service chose (overload, not ready, deadline): not failures.
    if (status === 503 || status === 504) request.log.warn({ code: stableCode, detail: error.message }, 'request not served');
    else if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: stableCode, detail: error.message }, 'request refused');
    for (const [name, value] of Object.entries(error.headers ?? {})) reply.header(name, value);
    if (status === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
    return sendProblem(reply, {
      status,
      code: stableCode,
      detail: status === 500 ? 'internal error' : error.message,
      ...(error.param ? { param: error.param } : {}),
    });
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, { status: 404, code: `${prefix}_ROUTE_NOT_FOUND`, detail: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
}

export default fp(problemPlugin, { name: 'augserve-problem', fastify: '5.x' });
