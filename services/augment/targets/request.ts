import sharp from 'sharp';
import { coerceValue, validateAgainst, type IntakeErrors } from '../../shared/form.ts';
import type { JsonSchema } from '../../shared/openapi.ts';
import { inspectImage, orientedSize, type Form, type IntakeLimits } from '../../shared/intake.ts';
import type { ImageSize } from '../ops/types.ts';
import { DEFAULT_BBOX_FORMAT, toPixels, type BboxFormat, type PixelBox } from './formats.ts';
import { DEFAULT_TARGET_SETTINGS, type Label, type Mask, type TargetSet, type TargetSettings } from './set.ts';

/** Request fields that describe targets rather than an operation's parameters. */
export const TARGET_FIELDS = [
  'bboxes', 'bbox_format', 'bbox_labels', 'keypoints', 'keypoint_labels',
  'min_visibility', 'min_area', 'remove_invisible_keypoints', 'remove_occluded_keypoints', 'bbox_rotate_method', 'mask_fill',
  'mix_bboxes', 'mix_bbox_labels', 'mix_keypoints', 'mix_keypoint_labels',
] as const;

/** Most masks one request may bring (each a `mask` file, and as many `mix_mask`). */
export const MAX_MASKS = 8;

export interface TargetRequest {
  set: TargetSet;
  /** The mix image's targets (CutMix, MixUp), indices after the image's. */
  mix?: TargetSet;
  /** Mosaic: each mix image's targets, in order, indices after the image's and the earlier ones'. */
  mixes?: TargetSet[];
  settings: TargetSettings;
  format: BboxFormat;
}

type Fields = Record<string, unknown>;

function bad(errors: IntakeErrors, param: string, message: string): Error {
  return Object.assign(new errors.InvalidParam(message), { param });
}

/** Whether a request gives any target at all (then its answer is JSON with `targets`). */
export function hasTargets(fields: Fields, form: Form): boolean {
  return ['bboxes', 'bbox_labels', 'keypoints', 'keypoint_labels', 'mix_bboxes', 'mix_bbox_labels', 'mix_keypoints', 'mix_keypoint_labels'].some((name) => fields[name] !== undefined) || form.files.has('mask') || form.files.has('mix_mask');
}

/**
 * The request's targets in the internal form, checked: boxes converted from `bbox_format`,
 * degenerate ones refused by index, then clipped to their image; labels as long as what they
 * label; masks single-channel 8-bit of their image's size. `mix` is the CutMix image's size,
 * when the request has one and uses it.
 */
export async function readTargets(
  fields: Fields,
  form: Form,
  size: ImageSize,
  mix: ImageSize | undefined,
  limits: IntakeLimits,
  maxTargets: number,
  errors: IntakeErrors,
  /** `paired` (CutMix): one mix_mask per mask, pasted into it; `any` (MixUp): the mix image's own masks. */
  mixMasks: 'paired' | 'any' = 'paired',
): Promise<TargetRequest> {
  const format = (fields.bbox_format as BboxFormat | undefined) ?? DEFAULT_BBOX_FORMAT;
  const counted = ['bboxes', 'keypoints', ...(mix ? ['mix_bboxes', 'mix_keypoints'] : [])];
  const total = counted.reduce((sum, name) => sum + ((fields[name] as unknown[] | undefined)?.length ?? 0), 0);
  if (total > maxTargets) {
    throw Object.assign(new errors.PayloadTooLarge(`${total} boxes and keypoints in one request; the limit is ${maxTargets}`), { param: 'bboxes' });
  }
  const settings = readSettings(fields);
  const masks = await readMasks(form, 'mask', size, limits, errors);
  const set: TargetSet = {
    boxes: readBoxes(fields, '', format, size, 0, errors),
    keypoints: readKeypoints(fields, '', 0, errors),
    masks,
  };
  if (!mix) {
    for (const name of MIX_TARGET_FIELDS) {
      if (fields[name] !== undefined) throw Object.assign(new errors.InvalidRequest(`unexpected field ${name} (only cutmix, mixup and mosaic use it)`), { param: name });
    }
    if (form.files.has('mix_mask')) throw Object.assign(new errors.InvalidRequest('unexpected file field mix_mask (only cutmix, mixup and mosaic use it)'), { param: 'mix_mask' });
    return { set, settings, format };
  }
  const mixMaskList = await readMasks(form, 'mix_mask', mix, limits, errors);
  if (mixMasks === 'paired' && mixMaskList.length !== masks.length) {
    throw Object.assign(new errors.InvalidRequest(`expected one mix_mask per mask (${masks.length}), got ${mixMaskList.length}`), { param: 'mix_mask' });
  }
  return {
    set,
    mix: {
      boxes: readBoxes(fields, 'mix_', format, mix, (fields.bboxes as unknown[] | undefined)?.length ?? 0, errors),
      keypoints: readKeypoints(fields, 'mix_', (fields.keypoints as unknown[] | undefined)?.length ?? 0, errors),
      masks: mixMaskList,
    },
    settings,
    format,
  };
}

/** The mix images' own target fields. */
export const MIX_TARGET_FIELDS = ['mix_bboxes', 'mix_bbox_labels', 'mix_keypoints', 'mix_keypoint_labels'] as const;

/**
 * The `mix_*` target fields as a multipart form gave them (one text per repetition), removed from
 * `form`, so that a request with several mix images can read one value per image.
 */
export function takeMixFields(form: Form): Record<string, string[]> {
  const taken: Record<string, string[]> = {};
  for (const name of MIX_TARGET_FIELDS) {
    const values = form.fields[name];
    if (values === undefined) continue;
    taken[name] = values.map(String);
    delete form.fields[name];
  }
  return taken;
}

/**
 * The taken `mix_*` fields split into one set of fields per mix image: each field given once per
 * image (`count` values) or not at all, each value coerced and checked as its own field
 * (`mix_bboxes[k]`), by `schema` (the contract's MixTargetFields).
 */
export function splitMixFields(taken: Record<string, string[]>, count: number, schema: JsonSchema, errors: IntakeErrors): Fields[] {
  const sets: Fields[] = Array.from({ length: count }, () => ({}));
  for (const [name, values] of Object.entries(taken)) {
    if (values.every((value) => value === '')) continue;
    if (values.length !== count) {
      throw bad(errors, name, `expected ${count} values for ${name} (one per mix_image, [] for none), got ${values.length}`);
    }
    values.forEach((value, k) => {
      const field = count === 1 ? name : `${name}[${k}]`;
      const coerced = coerceValue(value, schema.properties![name]!, field, errors);
      validateAgainst({ [name]: coerced }, { type: 'object', properties: { [name]: schema.properties![name]! } }, errors, count === 1 ? '' : `mix_image[${k}].`);
      sets[k]![name] = coerced;
    });
  }
  return sets;
}

/**
 * Mosaic's targets: the image's (`fields`, at most one `mask`) and each mix image's (`perMix[k]`,
 * its `mix_mask` k when mix masks are given: none or one per mix image), numbered image first,
 * then each mix image in order.
 */
export async function readMosaicTargets(
  fields: Fields,
  perMix: readonly Fields[],
  form: Form,
  size: ImageSize,
  mixSizes: readonly ImageSize[],
  limits: IntakeLimits,
  maxTargets: number,
  errors: IntakeErrors,
): Promise<TargetRequest> {
  const format = (fields.bbox_format as BboxFormat | undefined) ?? DEFAULT_BBOX_FORMAT;
  const counts = [fields, ...perMix].map((set, k) => {
    const prefix = k === 0 ? '' : 'mix_';
    return {
      boxes: (set[`${prefix}bboxes`] as unknown[] | undefined)?.length ?? 0,
      keypoints: (set[`${prefix}keypoints`] as unknown[] | undefined)?.length ?? 0,
    };
  });
  const total = counts.reduce((sum, { boxes, keypoints }) => sum + boxes + keypoints, 0);
  if (total > maxTargets) {
    throw Object.assign(new errors.PayloadTooLarge(`${total} boxes and keypoints in one request; the limit is ${maxTargets}`), { param: 'bboxes' });
  }
  const masks = await readMasks(form, 'mask', size, limits, errors);
  if (masks.length > 1) throw Object.assign(new errors.InvalidRequest(`expected at most one mask for mosaic (a label map), got ${masks.length}`), { param: 'mask' });
  const mixMasks = await readMasks(form, 'mix_mask', mixSizes, limits, errors);
  if (mixMasks.length !== 0 && mixMasks.length !== mixSizes.length) {
    throw Object.assign(new errors.InvalidRequest(`expected one mix_mask per mix_image (${mixSizes.length}) or none, got ${mixMasks.length}`), { param: 'mix_mask' });
  }
  const set: TargetSet = { boxes: readBoxes(fields, '', format, size, 0, errors), keypoints: readKeypoints(fields, '', 0, errors), masks };
  let [firstBox, firstKeypoint] = [counts[0]!.boxes, counts[0]!.keypoints];
  const mixes = perMix.map((mixFields, k) => {
    const mixSet: TargetSet = {
      boxes: readBoxes(mixFields, 'mix_', format, mixSizes[k]!, firstBox, errors),
      keypoints: readKeypoints(mixFields, 'mix_', firstKeypoint, errors),
      masks: mixMasks[k] ? [mixMasks[k]] : [],
    };
    firstBox += counts[k + 1]!.boxes;
    firstKeypoint += counts[k + 1]!.keypoints;
    return mixSet;
  });
  return { set, mixes, settings: readSettings(fields), format };
}

function readSettings(fields: Fields): TargetSettings {
  return {
    minVisibility: (fields.min_visibility as number | undefined) ?? DEFAULT_TARGET_SETTINGS.minVisibility,
    minArea: (fields.min_area as number | undefined) ?? DEFAULT_TARGET_SETTINGS.minArea,
    removeInvisibleKeypoints: (fields.remove_invisible_keypoints as boolean | undefined) ?? DEFAULT_TARGET_SETTINGS.removeInvisibleKeypoints,
    removeOccludedKeypoints: (fields.remove_occluded_keypoints as boolean | undefined) ?? DEFAULT_TARGET_SETTINGS.removeOccludedKeypoints,
    rotateMethod: (fields.bbox_rotate_method as TargetSettings['rotateMethod'] | undefined) ?? DEFAULT_TARGET_SETTINGS.rotateMethod,
    maskFill: (fields.mask_fill as number | undefined) ?? DEFAULT_TARGET_SETTINGS.maskFill,
  };
}

function readLabels(fields: Fields, name: string, count: number, errors: IntakeErrors): Label[] | undefined {
  const labels = fields[name] as Label[] | undefined;
  if (labels !== undefined && labels.length !== count) {
    throw bad(errors, name, `expected ${count} labels (one per item) for ${name}, got ${labels.length}`);
  }
  return labels;
}

function readBoxes(fields: Fields, prefix: string, format: BboxFormat, size: ImageSize, first: number, errors: IntakeErrors) {
  const name = `${prefix}bboxes`;
  const given = (fields[name] as number[][] | undefined) ?? [];
  const labels = readLabels(fields, `${prefix}bbox_labels`, given.length, errors);
  const boxes = [];
  for (const [i, value] of given.entries()) {
    if (!value.every(Number.isFinite)) throw bad(errors, `${name}[${i}]`, `expected four finite numbers for ${name}[${i}], got ${JSON.stringify(value)}`);
    const box = toPixels(value as [number, number, number, number], format, size);
    if (!(box[2] > box[0] && box[3] > box[1])) {
      throw bad(errors, `${name}[${i}]`, `expected x_max > x_min and y_max > y_min (in ${format}) for ${name}[${i}], got ${JSON.stringify(value)}`);
    }
    // Clipped to its image; a box wholly outside it is dropped, as after any operation.
    const clipped: PixelBox = [Math.max(0, box[0]), Math.max(0, box[1]), Math.min(size.width, box[2]), Math.min(size.height, box[3])];
    if (clipped[2] > clipped[0] && clipped[3] > clipped[1]) boxes.push({ box: clipped, index: first + i, label: labels?.[i] ?? null });
  }
  return boxes;
}

function readKeypoints(fields: Fields, prefix: string, first: number, errors: IntakeErrors) {
  const name = `${prefix}keypoints`;
  const given = (fields[name] as number[][] | undefined) ?? [];
  const labels = readLabels(fields, `${prefix}keypoint_labels`, given.length, errors);
  return given.map((value, i) => {
    if ((value.length !== 2 && value.length !== 4) || !value.every(Number.isFinite)) {
      throw bad(errors, `${name}[${i}]`, `expected [x, y] or [x, y, angle, scale] (finite numbers) for ${name}[${i}], got ${JSON.stringify(value)}`);
    }
    const [x, y, angle, scale] = value as [number, number, number?, number?];
    return { x, y, ...(angle === undefined ? {} : { angle, scale }), index: first + i, label: labels?.[i] ?? null };
  });
}

/**
 * The masks of a repeatable file field: header checked first (a bomb is refused undecoded), then
 * decoded. Together they count as one image against the pixel limit (masks × width × height), so
 * eight masks cost no more memory than the one image the limit allows.
 */
async function readMasks(form: Form, field: string, sizes: ImageSize | readonly ImageSize[], limits: IntakeLimits, errors: IntakeErrors): Promise<Mask[]> {
  const files = form.files.get(field) ?? [];
  if (files.length > MAX_MASKS) throw Object.assign(new errors.InvalidRequest(`expected at most ${MAX_MASKS} files for ${field}, got ${files.length}`), { param: field });
  const masks: Mask[] = [];
  let pixels = 0;
  for (const [i, bytes] of files.entries()) {
    const name = `${field}[${i}]`;
    const size = Array.isArray(sizes) ? sizes[i] : (sizes as ImageSize);
    if (!size) throw Object.assign(new errors.InvalidRequest(`expected at most ${(sizes as ImageSize[]).length} files for ${field}, got ${files.length}`), { param: name });
    if (bytes.length === 0) throw Object.assign(new errors.InvalidRequest(`file ${name} is empty`), { param: name });
    const meta = await inspectImage(bytes, limits, errors, name);
    if (meta.channels !== 1 || meta.depth !== 'uchar' || (meta.pages ?? 1) > 1) {
      const what = `${meta.channels} channel${meta.channels === 1 ? '' : 's'} of ${meta.depth}${meta.isPalette ? ' (palette)' : ''}`;
      throw bad(errors, name, `expected a single-channel 8-bit image for ${name}, got ${what}`);
    }
    const oriented = orientedSize(meta);
    if (oriented.width !== size.width || oriented.height !== size.height) {
      throw bad(errors, name, `expected a ${size.width}x${size.height} image (its image's size) for ${name}, got ${oriented.width}x${oriented.height}`);
    }
    pixels += oriented.width * oriented.height;
    if (pixels > limits.inputPixels) {
      throw Object.assign(new errors.PayloadTooLarge(`the ${field} files hold ${pixels} pixels up to ${name}; the limit is ${limits.inputPixels}`), { param: name });
    }
    try {
      const { data, info } = await sharp(bytes, { limitInputPixels: limits.inputPixels, autoOrient: true })
        .extractChannel(0)
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      masks.push({ data, width: info.width, height: info.height });
    } catch {
      throw Object.assign(new errors.UnsupportedMedia(`${name} could not be decoded (truncated or corrupt)`), { param: name });
    }
  }
  return masks;
}
