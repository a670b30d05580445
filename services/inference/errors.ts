import createError, { type FastifyErrorConstructor } from '@fastify/error';
import { defineIntakeErrors } from '../shared/errors.ts';

type InferenceError = FastifyErrorConstructor<{ code: string; statusCode: number }, [string]>;
const define = (code: string, status: number) => createError(code, '%s', status) as InferenceError;

const intake = defineIntakeErrors('INF');

/** 400 INF_INVALID_REQUEST: a required field or file is missing, empty or malformed. */
export const InvalidRequestError = intake.InvalidRequest;
/** 400 INF_INVALID_PARAM: "expected <what> for <name>, got <value>". */
export const InvalidParamError = intake.InvalidParam;
/** 413 INF_PAYLOAD_TOO_LARGE: body, file, pixel count or image count over a limit. */
export const PayloadTooLargeError = intake.PayloadTooLarge;
/** 415 INF_UNSUPPORTED_MEDIA: the upload does not decode as an image. */
export const UnsupportedMediaError = intake.UnsupportedMedia;

/** The intake helpers of services/shared throw through this set, so their codes carry INF_. */
export const intakeErrors = intake;

/** 404 INF_MODEL_NOT_FOUND: no model of that name in the repository. */
export const ModelNotFoundError = define('INF_MODEL_NOT_FOUND', 404);
/** 404 INF_ENSEMBLE_NOT_FOUND: no ensemble of that name. */
export const EnsembleNotFoundError = define('INF_ENSEMBLE_NOT_FOUND', 404);
/** 503 INF_MODEL_NOT_READY: the model exists but failed to load, or is still loading / warming up. */
export const ModelNotReadyError = define('INF_MODEL_NOT_READY', 503);
/** 503 INF_QUEUE_FULL: the model's bounded queue is full; retry after the Retry-After delay. */
export const QueueFullError = define('INF_QUEUE_FULL', 503);
/** 503 INF_WORKER_FAILED: the worker thread running the batch died; it has been replaced. */
export const WorkerFailedError = define('INF_WORKER_FAILED', 503);
/** 503 INF_SHUTTING_DOWN: the service is closing and takes no new work. */
export const ShuttingDownError = define('INF_SHUTTING_DOWN', 503);
/** 500 INF_INFERENCE_FAILED: the runtime rejected a batch that passed validation (a model bug). */
export const InferenceFailedError = define('INF_INFERENCE_FAILED', 500);
/** 504 INF_TIMEOUT: the request was not answered within INFERENCE_TIMEOUT_MS. */
export const InferenceTimeoutError = define('INF_TIMEOUT', 504);
/** 422 INF_MODEL_LOAD_FAILED: a (re)load found the model's folder but cannot serve what it holds. */
export const ModelLoadFailedError = define('INF_MODEL_LOAD_FAILED', 422);

/** Every code this service can answer with; the OpenAPI test checks each is documented. */
export const INFERENCE_ERROR_CODES = [
  'INF_INVALID_REQUEST', 'INF_INVALID_PARAM', 'INF_PAYLOAD_TOO_LARGE', 'INF_UNSUPPORTED_MEDIA',
  'INF_MODEL_NOT_FOUND', 'INF_ENSEMBLE_NOT_FOUND', 'INF_MODEL_NOT_READY', 'INF_QUEUE_FULL',
  'INF_WORKER_FAILED', 'INF_SHUTTING_DOWN', 'INF_INFERENCE_FAILED', 'INF_TIMEOUT', 'INF_MODEL_LOAD_FAILED',
] as const;
