import createError, { type FastifyErrorConstructor } from '@fastify/error';

/**
 * Errors every upload endpoint can raise, named with the service's prefix so that codes stay
 * unique across the two services (`AUG_PAYLOAD_TOO_LARGE`, `INF_PAYLOAD_TOO_LARGE`, ...).
 * Each constructor takes one printf-style argument: the human-readable detail.
 */
export function defineIntakeErrors<P extends string>(prefix: P) {
  const make = (code: string, status: number) =>
    createError(`${prefix}_${code}`, '%s', status) as FastifyErrorConstructor<{ code: string; statusCode: number }, [string]>;
  return {
    /** 400: a required field or file is missing, empty, duplicated or malformed. */
    InvalidRequest: make('INVALID_REQUEST', 400),
    /** 400: a parameter is out of its documented bounds or of the wrong type. */
    InvalidParam: make('INVALID_PARAM', 400),
    /** 413: the body, a field, a file, the image's pixel count or the batch is over a limit. */
    PayloadTooLarge: make('PAYLOAD_TOO_LARGE', 413),
    /** 415: the upload is not a decodable image of a supported format. */
    UnsupportedMedia: make('UNSUPPORTED_MEDIA', 415),
  };
}

/** Shape every error response takes (RFC 9457 problem details plus a stable `code`). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
}
