import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IntakeErrors } from './form.ts';
import { readForm, type Form, type IntakeLimits } from './intake.ts';

/**
 * Media types an image may be sent as, whole body, parameters in the query string (the
 * convention imaginary and similar services use). What the bytes are is decided by decoding them,
 * as for a multipart file: the declared type only selects this way of reading the request.
 */
export const RAW_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/avif', 'image/gif', 'image/tiff'] as const;

/**
 * Let the routes of `app` (an encapsulated plugin) take an image as the whole body, up to
 * `fileBytes` (a longer body is a 413 before it is read whole). The body stays a Buffer: no
 * multipart parser runs, and no copy is made.
 * @example acceptRawImages(app, config.maxFileBytes)
 */
export function acceptRawImages(app: FastifyInstance, fileBytes: number): void {
  app.addContentTypeParser([...RAW_IMAGE_TYPES], { parseAs: 'buffer', bodyLimit: fileBytes }, (_request, body, done) => done(null, body));
}

/** Whether the request brought an image as its whole body (see `acceptRawImages`). */
export function isRawImage(request: FastifyRequest): boolean {
  return Buffer.isBuffer(request.body);
}

/**
 * Read an upload either way, into the same `Form` the route checks: multipart as `readForm`
 * does, or a raw image body as the one file `rawField` with the query string as the text
 * fields (the same limits on their number and size). `rawField` undefined: this route takes
 * multipart only (several images), and a raw body is a 415. A multipart request's query string
 * is not read: clients such as Swagger UI send the documented query parameters, pre-filled with
 * their examples, whichever body they send, and refusing those requests broke "Try it out".
 */
export async function readUpload(request: FastifyRequest, limits: IntakeLimits, errors: IntakeErrors, rawField: string | undefined): Promise<Form> {
  if (!isRawImage(request)) return readForm(request, limits, errors);
  const query = (request.query ?? {}) as Record<string, string | string[]>;
  if (!rawField) throw new errors.UnsupportedMedia('expected a multipart/form-data body: this operation takes more than one image');
  const fields = Object.create(null) as Record<string, string[]>;
  let count = 0;
  for (const [name, value] of Object.entries(query)) {
    const values = Array.isArray(value) ? value : [value];
    count += values.length;
    if (count > limits.fields) throw new errors.PayloadTooLarge(`more than ${limits.fields} fields in one request`);
    for (const text of values) {
      if (Buffer.byteLength(text) > limits.fieldBytes) throw new errors.PayloadTooLarge(`field ${name} is over ${limits.fieldBytes} bytes`);
    }
    fields[name] = values;
  }
  return { files: new Map([[rawField, [request.body as Buffer]]]), fields };
}
