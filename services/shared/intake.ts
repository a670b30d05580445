import type { FastifyRequest } from 'fastify';
import '@fastify/multipart';
import sharp, { type Metadata, type Sharp } from 'sharp';
import type { IntakeErrors } from './form.ts';
import { npyImage, type NpyLayout } from './npy.ts';

/** Limits on what one request may bring in; every one has a safe default in config.ts. */
export interface IntakeLimits {
  /** Bytes of one uploaded file. */
  fileBytes: number;
  /** Number of uploaded files in one request. */
  files: number;
  /** Bytes of one text field. */
  fieldBytes: number;
  /** Number of text fields in one request. */
  fields: number;
  /** Pixels (width × height) of one decoded input image, checked from its header. */
  inputPixels: number;
}

/** A multipart request read whole: files and text fields by field name, each possibly repeated. */
export interface Form {
  files: Map<string, Buffer[]>;
  fields: Record<string, string[]>;
}

/**
 * Read a multipart request into memory within the limits. Parser failures (cut-off bodies,
 * limits, bad field names) become the service's 4xx errors, never a 500.
 */
export async function readForm(request: FastifyRequest, limits: IntakeLimits, errors: IntakeErrors): Promise<Form> {
  if (!request.isMultipart()) throw new errors.UnsupportedMedia('expected a multipart/form-data body');
  const form: Form = { files: new Map(), fields: Object.create(null) as Record<string, string[]> };
  try {
    const parts = request.parts({
      limits: {
        fileSize: limits.fileBytes,
        files: limits.files,
        fieldSize: limits.fieldBytes,
        fields: limits.fields,
        parts: limits.files + limits.fields,
      },
    });
    for await (const part of parts) {
      if (part.type === 'file') {
        const bytes = await part.toBuffer();
        const list = form.files.get(part.fieldname) ?? [];
        list.push(bytes);
        form.files.set(part.fieldname, list);
      } else {
        if (part.valueTruncated) {
          throw new errors.PayloadTooLarge(`field ${part.fieldname} is over ${limits.fieldBytes} bytes`);
        }
        (form.fields[part.fieldname] ??= []).push(String(part.value));
      }
    }
  } catch (error) {
    throw translateMultipartError(error, limits, errors);
  }
  return form;
}

function translateMultipartError(error: unknown, limits: IntakeLimits, errors: IntakeErrors): unknown {
  const code = (error as { code?: string }).code;
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new errors.PayloadTooLarge(`an uploaded file is over ${limits.fileBytes} bytes`);
    case 'FST_FILES_LIMIT':
      return new errors.PayloadTooLarge(`more than ${limits.files} files in one request`);
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new errors.PayloadTooLarge(`more than ${limits.fields} fields in one request`);
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new errors.UnsupportedMedia('expected a multipart/form-data body');
    default:
      // Our own errors pass through; anything else from the parser is a malformed body.
      if (typeof (error as { statusCode?: number }).statusCode === 'number' && code?.includes('_') && !code.startsWith('FST_')) {
        return error;
      }
      return new errors.InvalidRequest(`malformed multipart body: ${(error as Error).message ?? 'unreadable'}`);
  }
}

/** The one file of a field; none, an empty one or several are invalid requests. */
export function singleFile(form: Form, field: string, errors: IntakeErrors): Buffer {
  const files = form.files.get(field);
  if (!files || files.length === 0) throw Object.assign(new errors.InvalidRequest(`missing file ${field}`), { param: field });
  if (files.length > 1) throw Object.assign(new errors.InvalidRequest(`expected one file for ${field}, got ${files.length}`), { param: field });
  const [file] = files as [Buffer];
  if (file.length === 0) throw Object.assign(new errors.InvalidRequest(`file ${field} is empty`), { param: field });
  return file;
}

/** Refuse file fields the operation does not take (a typo must not pass silently). */
export function rejectUnknownFiles(form: Form, allowed: readonly string[], errors: IntakeErrors): void {
  for (const name of form.files.keys()) {
    if (!allowed.includes(name)) throw Object.assign(new errors.InvalidRequest(`unexpected file field ${name}`), { param: name });
  }
}

/** Input formats accepted (sharp's names); `heif` only when its compression is AV1 (AVIF). */
export const INPUT_FORMATS = ['jpeg', 'png', 'webp', 'heif', 'gif', 'tiff'] as const;
/** `npy`: the decoded pixels behind a NumPy header, no encoder (services/shared/npy.ts). */
export type OutputFormat = 'jpeg' | 'png' | 'webp' | 'avif' | 'npy';

/** 8-bit interleaved pixels, as sharp's `.raw()` gives them. */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

export interface DecodedImage {
  raw: RawImage;
  /** The format a response defaults to for this input. */
  format: OutputFormat;
}

/**
 * Check an upload from its header alone (format, pixel count), so bombs are refused without
 * decoding; returns the sharp metadata for the caller to decode with.
 */
export async function inspectImage(bytes: Buffer, limits: IntakeLimits, errors: IntakeErrors, field = 'image'): Promise<Metadata> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw Object.assign(new errors.UnsupportedMedia(`${field} is not a decodable image`), { param: field });
  }
  const format = meta.format as string | undefined;
  if (!format || !(INPUT_FORMATS as readonly string[]).includes(format) || (format === 'heif' && meta.compression !== 'av1')) {
    throw Object.assign(
      new errors.UnsupportedMedia(`${field} is ${format ?? 'of an unknown format'}; expected JPEG, PNG, WebP, AVIF, GIF or TIFF`),
      { param: field },
    );
  }
  const width = meta.width ?? 0;
  // For multi-frame inputs sharp reports the height of all frames stacked; only the first is used.
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width <= 0 || height <= 0) throw Object.assign(new errors.UnsupportedMedia(`${field} has no pixels`), { param: field });
  if (width * height > limits.inputPixels) {
    throw Object.assign(
      new errors.PayloadTooLarge(`${field} is ${width}×${height} = ${width * height} pixels; the limit is ${limits.inputPixels}`),
      { param: field },
    );
  }
  return meta;
}

/** Width and height as displayed (EXIF orientation applied; first frame of an animation). */
export function orientedSize(meta: Metadata): { width: number; height: number } {
  if ((meta.pages ?? 1) > 1) return { width: meta.width, height: meta.pageHeight ?? meta.height };
  return { width: meta.autoOrient?.width ?? meta.width, height: meta.autoOrient?.height ?? meta.height };
}

function isGrey(meta: Metadata): boolean {
  return meta.space === 'b-w' || meta.space === 'grey16';
}

/** The decoding half of every pipeline: first frame or page, EXIF orientation applied first. */
function openImage(bytes: Buffer, limits: IntakeLimits): Sharp {
  return sharp(bytes, { limitInputPixels: limits.inputPixels, pages: 1, page: 0, autoOrient: true });
}

function undecodable(errors: IntakeErrors, field: string): Error {
  return Object.assign(new errors.UnsupportedMedia(`${field} could not be decoded (truncated or corrupt)`), { param: field });
}

/**
 * Decode an upload to 8-bit raw pixels: first frame or page only, EXIF orientation applied,
 * grey kept grey, anything else (CMYK, 16-bit, palette, Lab) brought to sRGB, alpha kept.
 * `meta` is the header `inspectImage` already read, if the caller has it. With `reduce`, the
 * pixels come out at that smaller size: libvips's linear (triangle) reduction, which for a JPEG
 * starts from libjpeg's DCT scaling (sharp's shrink-on-load), so most of the full decode is never
 * done.
 */
export async function decodeImage(
  bytes: Buffer,
  limits: IntakeLimits,
  errors: IntakeErrors,
  field = 'image',
  meta?: Metadata,
  reduce?: { width: number; height: number },
): Promise<DecodedImage> {
  meta ??= await inspectImage(bytes, limits, errors, field);
  // sharp drops the alpha of grey output; grey + alpha is taken back from sRGB + alpha (R = G = B).
  const greyAlpha = isGrey(meta) && meta.hasAlpha === true;
  try {
    const opened = openImage(bytes, limits);
    if (reduce) opened.resize(reduce.width, reduce.height, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: true });
    const { data, info } = await opened
      .toColourspace(isGrey(meta) && !greyAlpha ? 'b-w' : 'srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (greyAlpha && info.channels === 4) {
      return { raw: { data: greyAlphaFromRgba(data), width: info.width, height: info.height, channels: 2 }, format: defaultOutputFormat(meta) };
    }
    return {
      raw: { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] },
      format: defaultOutputFormat(meta),
    };
  } catch {
    throw undecodable(errors, field);
  }
}

/** Keeps R (equal to G and B for grey content) and A of each RGBA pixel. */
export function greyAlphaFromRgba(rgba: Buffer): Buffer {
  const out = Buffer.allocUnsafe(rgba.length / 2);
  for (let i = 0, o = 0; i < rgba.length; i += 4, o += 2) {
    out[o] = rgba[i]!;
    out[o + 1] = rgba[i + 3]!;
  }
  return out;
}

/**
 * Whether an upload can go from bytes to encoded answer in one sharp pipeline (`transcode`) with
 * the same pixels as `decodeImage` → raw operation → `encodeImage`: one still frame of 8-bit grey
 * or sRGB without alpha and without EXIF rotation, in a format whose decoder sharp runs in the
 * same pipeline. (With an orientation, sharp turns the image after a resize, not before it, and a
 * Lanczos resize is not exactly mirror-symmetric: a few pixels would differ by one.)
 */
export function transcodable(meta: Metadata): boolean {
  return (
    ['jpeg', 'png', 'webp'].includes(meta.format ?? '') &&
    (meta.space === 'srgb' || meta.space === 'b-w') &&
    meta.depth === 'uchar' &&
    !meta.hasAlpha &&
    (meta.orientation ?? 1) === 1 &&
    (meta.pages ?? 1) === 1
  );
}

/**
 * Decode, transform and encode in one sharp pipeline (no raw copies through JavaScript), for
 * uploads `transcodable` accepts. `transform` adds the operation's calls (flip, rotate, extract,
 * resize).
 */
export async function transcode(
  bytes: Buffer,
  meta: Metadata,
  transform: (pipeline: Sharp) => Sharp,
  format: OutputFormat,
  quality: number | undefined,
  limits: IntakeLimits,
  errors: IntakeErrors,
  field = 'image',
  layout: NpyLayout = 'hwc',
): Promise<{ data: Buffer; width: number; height: number }> {
  const pipeline = transform(openImage(bytes, limits)).toColourspace(isGrey(meta) ? 'b-w' : 'srgb');
  try {
    if (format === 'npy') {
      const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      const raw = { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] };
      return { data: npyImage(raw, layout), width: info.width, height: info.height };
    }
    const { data, info } = await encoder(pipeline, format, quality).toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  } catch {
    throw undecodable(errors, field);
  }
}

/** The answer's format when the request names none: the input's, PNG for those sharp cannot write. */
export function defaultOutputFormat(meta: Metadata): OutputFormat {
  switch (meta.format) {
    case 'jpeg':
      return 'jpeg';
    case 'webp':
      return 'webp';
    case 'heif':
      return 'avif';
    default:
      return 'png';
  }
}

export const CONTENT_TYPES: Record<OutputFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  avif: 'image/avif',
  npy: 'application/x-npy',
};

/** Encode raw pixels; deterministic for the same pixels, format and quality (`layout` only for npy). */
export async function encodeImage(raw: RawImage, format: OutputFormat, quality?: number, layout: NpyLayout = 'hwc'): Promise<Buffer> {
  if (format === 'npy') return npyImage(raw, layout);
  let image = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
  // sharp would write one- and two-channel raw pixels as RGB; grey stays grey.
  if (raw.channels <= 2) image = image.toColourspace('b-w');
  return encoder(image, format, quality).toBuffer();
}

function encoder(image: Sharp, format: Exclude<OutputFormat, 'npy'>, quality: number | undefined): Sharp {
  switch (format) {
    case 'jpeg':
      // Huffman optimisation costs about as much as the rest of the encode for a few per cent
      // of size; training loops want the time (Pillow and OpenCV leave it off too).
      return image.jpeg({ quality, optimiseCoding: false });
    case 'webp':
      return image.webp({ quality });
    case 'avif':
      return image.avif({ quality });
    case 'png':
      return image.png();
  }
}
