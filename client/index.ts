/**
 * A typed client for augserve, generated from `openapi.yaml`: openapi-fetch over the `paths`
 * type that openapi-typescript makes of the contract, plus helpers for the uploads
 * (openapi-fetch sends JSON unless it is given a body serializer, and types a `format: binary`
 * field as a string). One image goes as the raw body with its fields in the query string, which
 * the service reads without a multipart parser; two (CutMix, a pipeline with `mixImage`), or
 * bytes of no recognised image type, go as multipart.
 *
 * One client talks to one service: point `baseUrl` at augment for `augment`/`augmentJson`/
 * `pipeline`, at inference for `models`/`classify`/`classifyEnsemble`; `api` reaches every
 * path of the contract. Runs wherever `fetch`, `FormData` and `Blob` do: Node 20, browsers.
 *
 * @example
 * const augment = createAugserveClient({ baseUrl: 'http://127.0.0.1:3001' });
 * const { bytes, applied } = await augment.augment('rotate', photo, { angle_range: [-15, 15], seed: 7 });
 * // Replay: the applied params as fields reproduce the same pixels.
 * const again = await augment.augment('rotate', photo, applied.params);
 *
 * const inference = createAugserveClient({ baseUrl: 'http://127.0.0.1:3002' });
 * const { results } = await inference.classifyEnsemble(bytes, { voting: 'soft', top_k: 3 });
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, operations, paths } from '../services/shared/api-types.ts';

type Schemas = components['schemas'];

/** The operations, each `POST /v1/augment/{op}`. */
export type AugmentOp = Schemas['PipelineStep']['op'];

const OPERATION_IDS = {
  flip: 'augmentFlip',
  rotate: 'augmentRotate',
  crop: 'augmentCrop',
  scale: 'augmentScale',
  cutout: 'augmentCutout',
  cutmix: 'augmentCutmix',
  affine: 'augmentAffine',
  perspective: 'augmentPerspective',
  brightness: 'augmentBrightness',
  contrast: 'augmentContrast',
  saturation: 'augmentSaturation',
  hue: 'augmentHue',
  color_jitter: 'augmentColorJitter',
  sharpness: 'augmentSharpness',
  gamma: 'augmentGamma',
  posterize: 'augmentPosterize',
  solarize: 'augmentSolarize',
  equalize: 'augmentEqualize',
  autocontrast: 'augmentAutocontrast',
  invert: 'augmentInvert',
  grayscale: 'augmentGrayscale',
  gaussian_blur: 'augmentGaussianBlur',
  gaussian_noise: 'augmentGaussianNoise',
  jpeg: 'augmentJpeg',
  erase: 'augmentErase',
  mixup: 'augmentMixup',
  mosaic: 'augmentMosaic',
  autoaugment: 'augmentAutoaugment',
  randaugment: 'augmentRandaugment',
  trivialaugment: 'augmentTrivialaugment',
  augmix: 'augmentAugmix',
} as const satisfies Record<AugmentOp, keyof operations>;

/** The operation names, in the order the README lists them. */
export const AUGMENT_OPS = Object.keys(OPERATION_IDS) as AugmentOp[];

type MultipartBody<Id extends keyof operations> = operations[Id] extends {
  requestBody: { content: { 'multipart/form-data': infer Body } };
}
  ? Body
  : never;

/** Bytes of an image: a Blob/File, or raw bytes (a Node Buffer is a Uint8Array). */
export type ImageInput = Blob | Uint8Array | ArrayBuffer;

/**
 * The text fields of one operation, as `openapi.yaml` declares them (every one optional: the
 * service applies the defaults). Ranges are `[min, max]`, boxes `[x1, y1, x2, y2]`. Targets go
 * here too: `bboxes` (in `bbox_format`), `keypoints`, their labels, and `masks`.
 */
export type AugmentFields<Op extends AugmentOp> = Partial<Omit<MultipartBody<(typeof OPERATION_IDS)[Op]>, 'image' | 'mix_image' | 'mask' | 'mix_mask'>> &
  TargetFiles;

/** Masks, each a single-channel 8-bit image the size of its image (sent as repeated `mask` / `mix_mask` files). */
export interface TargetFiles {
  masks?: ImageInput[];
  /** CutMix: one per mask, the size of the mix image. */
  mix_masks?: ImageInput[];
}

/** The targets of an answer, boxes in the request's `bbox_format`, masks base64 PNG. */
export type Targets = Schemas['Targets'];

const TARGET_KEYS = ['bboxes', 'keypoints', 'mix_bboxes', 'mix_keypoints'] as const;

/** Whether the fields give a target, so that the service answers JSON with `targets`. */
function hasTargets(fields: Record<string, unknown>): boolean {
  return TARGET_KEYS.some((key) => fields[key] !== undefined) || fields.masks !== undefined || fields.mix_masks !== undefined;
}

/** The text fields of an operation or pipeline (masks are files, not text). */
function textFields(fields: Record<string, unknown>): Record<string, unknown> {
  const { masks: _masks, mix_masks: _mixMasks, ...text } = fields as TargetFiles & Record<string, unknown>;
  // Labels go as JSON so that numbers stay numbers (comma-joined text would be read as strings).
  for (const key of Object.keys(text)) if (key.endsWith('_labels') && Array.isArray(text[key])) text[key] = JSON.stringify(text[key]);
  return text;
}

/** The form of an operation or pipeline: image, mix image, masks as files; the rest as text fields. */
function requestForm(image: ImageInput, fields: Record<string, unknown>, mixImage: ImageInput | ImageInput[] | undefined): FormData {
  const { masks, mix_masks } = fields as TargetFiles;
  const text = textFields(fields);
  // Several mix images (Mosaic): each mix_* target field is one list per mix image, sent as the field repeated.
  const perMix: Array<[string, unknown[]]> = [];
  if (Array.isArray(mixImage)) {
    for (const key of MIX_TARGET_KEYS) {
      const value = fields[key];
      if (!Array.isArray(value)) continue;
      perMix.push([key, value]);
      delete text[key];
    }
  }
  const form = toFormData({ image, mix_image: mixImage, mask: masks, mix_mask: mix_masks }, text);
  for (const [key, lists] of perMix) for (const list of lists) form.append(key, JSON.stringify(list));
  return form;
}

const MIX_TARGET_KEYS = ['mix_bboxes', 'mix_bbox_labels', 'mix_keypoints', 'mix_keypoint_labels'] as const;

/** One pipeline step: `op`, `p`, and that operation's fields. */
export type PipelineStep = { [Op in AugmentOp]: { op: Op; p?: number } & AugmentFields<Op> }[AugmentOp];

/** What `X-Augment-Params` holds: the values applied, under the request's field names. */
export interface AppliedParams {
  op: AugmentOp;
  seed: number;
  params: Schemas['AppliedParams'];
}

export type AugmentResult = Schemas['AugmentResult'];
export type PipelineResult = Schemas['PipelineResult'];
export type Problem = Schemas['Problem'];
export type Health = Schemas['Health'];

export type ModelList = Schemas['ModelList'];
export type ModelInfo = Schemas['ModelInfo'];
export type Prediction = Schemas['Prediction'];
export type ClassifyResult = Schemas['ClassifyResult'];
export type EnsembleClassifyResult = Schemas['EnsembleClassifyResult'];
/** Fields of a classify request (all optional: `top_k`, `tta`). */
export type ClassifyFields = Partial<Schemas['ClassifyFields']>;
/** Fields of an ensemble classify request: `voting`, `models`, `weights`, and the classify fields. */
export type EnsembleFields = ClassifyFields & Partial<Schemas['EnsembleFields']>;

/** An answer that is not a 2xx: the problem+json the service sent, or what could be read of it. */
export class AugserveError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly problem: Partial<Problem> | undefined;

  constructor(status: number, problem: Partial<Problem> | undefined, text?: string) {
    super(problem?.detail ? `${status} ${problem.code ?? ''}: ${problem.detail}`.replace(' :', ':') : `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`);
    this.name = 'AugserveError';
    this.status = status;
    this.code = problem?.code;
    this.problem = problem;
  }
}

export interface AugserveClientOptions {
  /** Root of one service, e.g. `http://127.0.0.1:3001` (augment) or `http://127.0.0.1:3002` (inference). */
  baseUrl: string;
  /** Sent as `X-API-Key` when the service runs with `API_KEYS`. */
  apiKey?: string;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** A fetch to use instead of the global one (tests, proxies, retries). */
  fetch?: (input: Request) => Promise<Response>;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface AugmentOptions {
  /** The second image, for `cutmix` and `mixup` (and a pipeline holding such a step); three, in order, for `mosaic`. */
  mixImage?: ImageInput | ImageInput[];
  signal?: AbortSignal;
}

export interface AugmentedImage {
  bytes: Uint8Array;
  contentType: string;
  /** The parsed `X-Augment-Params`: send `applied.params` back to replay. */
  applied: AppliedParams;
  /** The request's boxes, keypoints and masks after the operation, when it gave any. */
  targets?: Targets;
  response: Response;
}

function toBlob(image: ImageInput): Blob {
  if (image instanceof Blob) return image;
  // Copy into a fresh ArrayBuffer-backed view: Blob takes no SharedArrayBuffer, and the copy
  // keeps a pooled Node Buffer's neighbours out of the upload.
  return new Blob([image instanceof ArrayBuffer ? new Uint8Array(image) : new Uint8Array(image)]);
}

/**
 * One form field's text, the way the service reads it: arrays of numbers comma-joined, arrays
 * of arrays or objects (boxes, pipeline steps) as JSON, everything else as its string.
 */
export function fieldText(value: unknown): string {
  if (Array.isArray(value)) return value.some((item) => typeof item === 'object' && item !== null) ? JSON.stringify(value) : value.join(',');
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** A multipart body: files first (named `image.bin` unless a File brings its own name), then fields. */
export function toFormData(files: Record<string, ImageInput | ImageInput[] | undefined>, fields: Record<string, unknown> = {}): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(files)) {
    for (const image of value === undefined ? [] : Array.isArray(value) ? value : [value]) {
      const blob = toBlob(image);
      form.append(name, blob, typeof File !== 'undefined' && blob instanceof File ? blob.name : `${name}.bin`);
    }
  }
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null) form.append(name, fieldText(value));
  }
  return form;
}

/**
 * The media type of an image from its first bytes (JPEG, PNG, WebP, GIF, TIFF, AVIF), or a
 * Blob's own `image/*` type; undefined when neither tells.
 * @example await imageType(pngBytes) // 'image/png'
 */
export async function imageType(image: ImageInput): Promise<string | undefined> {
  if (image instanceof Blob && /^image\/(jpeg|png|webp|avif|gif|tiff)$/.test(image.type)) return image.type;
  const head = new Uint8Array(image instanceof Blob ? await image.slice(0, 16).arrayBuffer() : image instanceof ArrayBuffer ? image.slice(0, 16) : image.subarray(0, 16));
  const text = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image/jpeg';
  if (text(0, 8) === '\x89PNG\r\n\x1a\n') return 'image/png';
  if (text(0, 4) === 'RIFF' && text(8, 12) === 'WEBP') return 'image/webp';
  if (text(0, 4) === 'GIF8') return 'image/gif';
  if (text(0, 4) === 'II*\0' || text(0, 4) === 'MM\0*') return 'image/tiff';
  if (text(4, 8) === 'ftyp' && ['avif', 'avis'].includes(text(8, 12))) return 'image/avif';
  return undefined;
}

/** Fields as the query string of a raw-body request, each read as its form field would be. */
export function fieldQuery(fields: Record<string, unknown>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value !== undefined && value !== null) query.append(name, fieldText(value));
  return query.toString();
}

/** The error openapi-fetch read from a non-2xx answer (parsed JSON, or text), as an AugserveError. */
export function errorFrom(status: number, body: unknown): AugserveError {
  if (body && typeof body === 'object') return new AugserveError(status, body as Partial<Problem>);
  return new AugserveError(status, undefined, typeof body === 'string' ? body : undefined);
}

/** The value of `X-Augment-Params`, parsed; throws when the header is missing or not JSON. */
export function parseAppliedParams(header: string | null): AppliedParams {
  if (!header) throw new Error('expected an X-Augment-Params header, got none (cross-origin callers need it in Access-Control-Expose-Headers)');
  return JSON.parse(header) as AppliedParams;
}

/**
 * A client for one augserve service. `api` is the plain openapi-fetch client (every path of
 * the contract, typed); the methods wrap the multipart operations and the model list, and
 * throw `AugserveError` on a non-2xx answer.
 */
export function createAugserveClient(options: AugserveClientOptions) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.apiKey) headers['X-API-Key'] = options.apiKey;
  const api: Client<paths> = createClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ''), headers, fetch: options.fetch });

  /**
   * POST an upload to a contract path, through openapi-fetch so its middleware applies: the image
   * as the raw body with the fields in the query string where the operation takes that and there
   * is one image of a known type, multipart otherwise.
   */
  async function postUpload(
    path: `/v1/augment/${AugmentOp | 'pipeline'}`,
    image: ImageInput,
    mixImage: ImageInput | ImageInput[] | undefined,
    fields: Record<string, unknown>,
    accept: string,
    signal?: AbortSignal,
  ): Promise<Response> {
    // Raw body where the service takes it: one image of a known type, no second image, no masks.
    const { masks, mix_masks } = fields as TargetFiles;
    const single = !['/v1/augment/cutmix', '/v1/augment/mixup', '/v1/augment/mosaic'].includes(path) && mixImage === undefined && masks === undefined && mix_masks === undefined;
    const type = single ? await imageType(image) : undefined;
    // openapi-fetch types `format: binary` as string; the serializer hands it the real body.
    const { response, error } = await api.POST(path, {
      body: {} as never,
      ...(type
        ? { bodySerializer: () => toBlob(image), querySerializer: () => fieldQuery(textFields(fields)), headers: { Accept: accept, 'Content-Type': type } }
        : { bodySerializer: () => requestForm(image, fields, mixImage), headers: { Accept: accept } }),
      parseAs: 'stream',
      signal,
    });
    if (!response.ok) throw errorFrom(response.status, error);
    return response;
  }

  return {
    api,

    /**
     * Apply one operation and get the image back, with the params actually applied.
     * @example
     * const { bytes, applied } = await client.augment('flip', png, { direction: 'horizontal', format: 'png' });
     */
    async augment<Op extends AugmentOp>(op: Op, image: ImageInput, fields: AugmentFields<Op> = {}, opts: AugmentOptions = {}): Promise<AugmentedImage> {
      if (hasTargets(fields)) {
        // With targets the service answers JSON (an image answer cannot carry masks).
        const response = await postUpload(`/v1/augment/${op}`, image, opts.mixImage, fields, 'application/json', opts.signal);
        const answer = (await response.json()) as AugmentResult;
        return {
          bytes: Uint8Array.from(atob(answer.image), (c) => c.charCodeAt(0)),
          contentType: answer.contentType,
          applied: { op: answer.op as AugmentOp, seed: answer.seed, params: answer.params },
          targets: answer.targets,
          response,
        };
      }
      const response = await postUpload(`/v1/augment/${op}`, image, opts.mixImage, fields, 'image/*', opts.signal);
      const bytes = new Uint8Array(await response.arrayBuffer());
      return {
        bytes,
        contentType: response.headers.get('content-type') ?? 'application/octet-stream',
        applied: parseAppliedParams(response.headers.get('x-augment-params')),
        response,
      };
    },

    /** Like `augment`, answered as JSON: the image base64-encoded, with its size and the params. */
    async augmentJson<Op extends AugmentOp>(op: Op, image: ImageInput, fields: AugmentFields<Op> = {}, opts: AugmentOptions = {}): Promise<AugmentResult> {
      const response = await postUpload(`/v1/augment/${op}`, image, opts.mixImage, fields, 'application/json', opts.signal);
      return (await response.json()) as AugmentResult;
    },

    /**
     * Run a pipeline; always answered as JSON (every variant, with the steps applied to it).
     * @example
     * const { variants } = await client.pipeline(png, [{ op: 'flip', p: 0.5 }, { op: 'rotate', angle_range: [-15, 15] }], { count: 4, seed: 1 });
     */
    async pipeline(image: ImageInput, ops: PipelineStep[], fields: Omit<AugmentFields<'flip'>, 'direction'> & Partial<Schemas['MixTargetFields']> & { count?: number } = {}, opts: AugmentOptions = {}): Promise<PipelineResult> {
      const response = await postUpload('/v1/augment/pipeline', image, opts.mixImage, { ...fields, ops: JSON.stringify(ops) }, 'application/json', opts.signal);
      return (await response.json()) as PipelineResult;
    },

    /** Inference: `GET /v1/models`, every model (ready or not) and every ensemble. */
    async models(): Promise<ModelList> {
      const { data, error, response } = await api.GET('/v1/models');
      if (!data) throw errorFrom(response.status, error);
      return data;
    },

    /**
     * Inference: classify images with one model, uploaded as multipart (no base64 overhead).
     * Results come back in the order of the images.
     * @example
     * const { results } = await inference.classify('resnet', [a, b], { top_k: 3 });
     */
    async classify(model: string, images: ImageInput | ImageInput[], fields: ClassifyFields = {}, opts: RequestOptions = {}): Promise<ClassifyResult> {
      const { data, error, response } = await api.POST('/v1/models/{name}/classify', {
        params: { path: { name: model } },
        body: {} as never,
        bodySerializer: () => toFormData({ image: images }, fields),
        signal: opts.signal,
      });
      if (!data) throw errorFrom(response.status, error);
      return data;
    },

    /**
     * Inference: classify images with an ensemble (default `default`), its members combined by voting.
     * @example
     * const { results } = await inference.classifyEnsemble(photo, { voting: 'hard', top_k: 3 });
     * results[0].members.map((m) => [m.model, m.predictions[0].label]);
     */
    async classifyEnsemble(images: ImageInput | ImageInput[], fields: EnsembleFields = {}, opts: RequestOptions & { ensemble?: string } = {}): Promise<EnsembleClassifyResult> {
      const { data, error, response } = await api.POST('/v1/ensembles/{name}/classify', {
        params: { path: { name: opts.ensemble ?? 'default' } },
        body: {} as never,
        bodySerializer: () => toFormData({ image: images }, fields),
        signal: opts.signal,
      });
      if (!data) throw errorFrom(response.status, error);
      return data;
    },

    /** `GET /health/ready`: the readiness document, whether ready (200) or not (503). */
    async ready(): Promise<Health> {
      const { data, error, response } = await api.GET('/health/ready');
      const body = data ?? error;
      if (!body) throw errorFrom(response.status, undefined);
      return body;
    },
  };
}

export type AugserveClient = ReturnType<typeof createAugserveClient>;
