import createError from '@fastify/error';
import { defineIntakeErrors } from '../shared/errors.ts';

const intake = defineIntakeErrors('AUG');

export const InvalidRequestError = intake.InvalidRequest;
/** 400 AUG_INVALID_PARAM: "expected <what> for <name>, got <value>". */
export const InvalidParamError = intake.InvalidParam;
export const PayloadTooLargeError = intake.PayloadTooLarge;
export const UnsupportedMediaError = intake.UnsupportedMedia;
/** 400 AUG_INVALID_RANGE: a range whose min is greater than its max, or outside its bounds. */
export const InvalidRangeError = createError<[string]>('AUG_INVALID_RANGE', '%s', 400);
/** 422 AUG_IMPOSSIBLE_PARAM: valid parameters this particular image cannot satisfy. */
export const ImpossibleParamError = createError<[string]>('AUG_IMPOSSIBLE_PARAM', '%s', 422);
/** 400 AUG_UNKNOWN_OP: a pipeline step names no known operation. */
export const UnknownOpError = createError<[string]>('AUG_UNKNOWN_OP', '%s', 400);

/** The shared intake helpers throw through this set, so their codes carry the AUG prefix. */
export const intakeErrors = intake;
