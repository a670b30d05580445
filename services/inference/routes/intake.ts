import type { FastifyRequest } from 'fastify';
import { coerceObject, validateAgainst } from '../../shared/form.ts';
import { inspectImage, orientedSize, readForm, rejectUnknownFiles, type IntakeLimits } from '../../shared/intake.ts';
import { flattenObject, requestBodySchema, type JsonSchema } from '../../shared/openapi.ts';
import { InvalidRequestError, PayloadTooLargeError, UnsupportedMediaError, intakeErrors } from '../errors.ts';

/** The one file field of the classify operations: repeated once per image. */
export const IMAGE_FIELD = 'image';

/** A classify operation's two bodies from openapi.yaml: multipart text fields, and JSON. */
export interface ClassifyContract {
  multipartFields: JsonSchema;
  json: JsonSchema;
}

const isFile = (schema: JsonSchema) => schema.format === 'binary' || schema.items?.format === 'binary';

/**
 * Reads the operation's request bodies from the contract; fails at start if they are missing.
 * The validators are compiled here, at start, not by the first request (which would stall the
 * event loop for a compile while requests wait).
 */
export function classifyContract(operationId: string): ClassifyContract {
  const multipart = flattenObject(requestBodySchema(operationId, 'multipart/form-data'));
  const properties = Object.fromEntries(Object.entries(multipart.properties ?? {}).filter(([, p]) => !isFile(p)));
  const contract = {
    multipartFields: { ...multipart, properties, required: (multipart.required ?? []).filter((name) => name in properties) },
    json: flattenObject(requestBodySchema(operationId, 'application/json')),
  };
  for (const schema of [contract.multipartFields, contract.json]) precompile(schema);
  return contract;
}

/** Compiles a schema's validator now (validateAgainst caches it per schema object). */
export function precompile(schema: JsonSchema): void {
  try {
    validateAgainst(undefined, schema, intakeErrors);
  } catch {
    // Expected: nothing is valid against an object schema; only the compile mattered.
  }
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function decodeBase64(text: string, index: number): Buffer {
  // Tolerate a data: URL prefix and line breaks, as browsers and base64(1) produce them.
  const body = text.replace(/^data:[^,]*;base64,/, '').replace(/\s+/g, '');
  if (!BASE64.test(body)) throw Object.assign(new InvalidRequestError(`images[${index}] is not base64`), { param: `images[${index}]` });
  const bytes = Buffer.from(body, 'base64');
  if (bytes.length === 0) throw Object.assign(new InvalidRequestError(`images[${index}] is empty`), { param: `images[${index}]` });
  return bytes;
}

export interface ClassifyInput {
  images: Buffer[];
  /** Each image's displayed size, read from its header. */
  sizes: { width: number; height: number }[];
  fields: Record<string, unknown>;
}

/**
 * Reads a classify request, multipart or JSON, within the limits: at most `maxImages` images
 * (413 beyond), each checked from its header (format, pixel count) before any decoding.
 */
export async function readClassifyRequest(request: FastifyRequest, contract: ClassifyContract, limits: IntakeLimits): Promise<ClassifyInput> {
  let images: Buffer[];
  let fields: Record<string, unknown>;
  if (request.isMultipart()) {
    const form = await readForm(request, limits, intakeErrors);
    rejectUnknownFiles(form, [IMAGE_FIELD], intakeErrors);
    images = form.files.get(IMAGE_FIELD) ?? [];
    if (images.length === 0) throw Object.assign(new InvalidRequestError(`missing file ${IMAGE_FIELD}`), { param: IMAGE_FIELD });
    images.forEach((image, i) => {
      if (image.length === 0) throw Object.assign(new InvalidRequestError(`file ${IMAGE_FIELD}[${i}] is empty`), { param: IMAGE_FIELD });
    });
    fields = coerceObject(form.fields, contract.multipartFields, intakeErrors);
    validateAgainst(fields, contract.multipartFields, intakeErrors);
  } else {
    if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) throw new UnsupportedMediaError('expected a multipart/form-data or application/json body');
    const body = request.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('expected a JSON object or a multipart/form-data body');
    const { images: encoded, ...rest } = body as Record<string, unknown>;
    // Count before validating, so a huge batch is a 413 whatever else is wrong with it.
    if (Array.isArray(encoded) && encoded.length > limits.files) {
      throw Object.assign(new PayloadTooLargeError(`${encoded.length} images in one request; the limit is ${limits.files}`), { param: 'images' });
    }
    fields = coerceObject(rest, contract.json, intakeErrors);
    validateAgainst({ ...fields, images: encoded }, contract.json, intakeErrors);
    images = (encoded as string[]).map(decodeBase64);
  }
  if (images.length > limits.files) {
    throw Object.assign(new PayloadTooLargeError(`${images.length} images in one request; the limit is ${limits.files}`), { param: IMAGE_FIELD });
  }
  const metas = await Promise.all(images.map((image, i) => inspectImage(image, limits, intakeErrors, images.length === 1 ? IMAGE_FIELD : `${IMAGE_FIELD}[${i}]`)));
  return { images, sizes: metas.map(orientedSize), fields };
}
