import type { OpName } from '../services/augment/ops/types.ts';

/**
 * One operation with fixed parameters, so that the service, in-process sharp and the Python
 * stacks all do the same work on the same pixels: no sampled value differs between them.
 * `fields` are the multipart form fields (as the README's curl lines send them); `params` the
 * same values as `operations[op].sample` takes them; `python` what bench/python/augment_baseline.py
 * reads (pixel boxes and sizes spelled out).
 */
export interface AugmentCase {
  op: OpName;
  fields: Record<string, string>;
  params: Record<string, unknown>;
  python: Record<string, unknown>;
  /** Output size every stack must produce. */
  expect: { width: number; height: number };
}

/** The shared seed: with every parameter fixed it only decides nothing, but it skips the CSPRNG. */
export const SEED = 1;
export const ROTATE_ANGLE = 15;
export const FILL = '#808080';
export const SCALE_FACTOR = 0.75;
export const CROP_SHARE = 0.6;
export const CROP_OUTPUT = 224;
export const CUTOUT_SHARE = 0.25;
export const CUTMIX_SHARE = 0.5;
/** The catalogue's rows (issue 21): one ColorJitter draw, one blur, one RandAugment and one TrivialAugment draw, replayed. */
export const JITTER = { order: ['brightness', 'contrast', 'saturation', 'hue'], brightness: 1.2, contrast: 0.8, saturation: 1.3, hue: 0.05 } as const;
export const BLUR = { kernel_size: 9, sigma: 2 } as const;
export const RANDAUGMENT_OPS = [
  { name: 'Rotate', magnitude: 9 },
  { name: 'Contrast', magnitude: 0.27 },
] as const;
export const TRIVIALAUGMENT_OPS = [{ name: 'Color', magnitude: 0.5 }] as const;

function centredBox(width: number, height: number, w: number, h: number): [number, number, number, number] {
  const x = Math.floor((width - w) / 2);
  const y = Math.floor((height - h) / 2);
  return [x, y, x + w, y + h];
}

/** The six operations on a width×height input, in the API's order. */
export function augmentCases(width: number, height: number): AugmentCase[] {
  const cropW = Math.round(width * CROP_SHARE);
  const cropH = Math.round(height * CROP_SHARE);
  const [cx, cy] = centredBox(width, height, cropW, cropH);
  const side = Math.round(CUTOUT_SHARE * Math.min(width, height));
  const hole = centredBox(width, height, side, side);
  const mixBox = centredBox(width, height, Math.round(width * CUTMIX_SHARE), Math.round(height * CUTMIX_SHARE));
  const same = { width, height };
  return [
    { op: 'flip', fields: { direction: 'horizontal' }, params: { direction: 'horizontal' }, python: { direction: 'horizontal' }, expect: same },
    {
      op: 'rotate',
      fields: { angle: String(ROTATE_ANGLE), expand: 'false', fill: FILL },
      params: { angle: ROTATE_ANGLE, expand: false, fill: FILL },
      python: { angle: ROTATE_ANGLE, fill: [128, 128, 128] },
      expect: same,
    },
    {
      op: 'crop',
      fields: { x: String(cx), y: String(cy), width: String(cropW), height: String(cropH), output_width: String(CROP_OUTPUT), output_height: String(CROP_OUTPUT) },
      params: { x: cx, y: cy, width: cropW, height: cropH, output_width: CROP_OUTPUT, output_height: CROP_OUTPUT },
      python: { box: [cx, cy, cx + cropW, cy + cropH], output: [CROP_OUTPUT, CROP_OUTPUT] },
      expect: { width: CROP_OUTPUT, height: CROP_OUTPUT },
    },
    {
      op: 'scale',
      fields: { factor: String(SCALE_FACTOR), keep_size: 'false' },
      params: { factor: SCALE_FACTOR, keep_size: false },
      python: { output: [Math.round(width * SCALE_FACTOR), Math.round(height * SCALE_FACTOR)] },
      expect: { width: Math.round(width * SCALE_FACTOR), height: Math.round(height * SCALE_FACTOR) },
    },
    {
      op: 'cutout',
      fields: { boxes: JSON.stringify([hole]), fill: '#000000' },
      params: { boxes: [hole], fill: '#000000' },
      python: { box: hole, fill: [0, 0, 0] },
      expect: same,
    },
    {
      op: 'cutmix',
      fields: { box: mixBox.join(',') },
      params: { box: mixBox },
      python: { box: mixBox },
      expect: same,
    },
    ...catalogueCases(same),
  ];
}

/**
 * The catalogue's benchmarked operations with every draw fixed (their applied parameters, sent
 * back), so that torchvision does the same work: ColorJitter's four adjustments in one order, a
 * 9-tap blur, and the policies' recorded sub-operations.
 */
export function catalogueCases(same: { width: number; height: number }): AugmentCase[] {
  const policy = (op: 'randaugment' | 'trivialaugment', ops: ReadonlyArray<{ name: string; magnitude: number }>): AugmentCase => ({
    op,
    fields: { ops: JSON.stringify(ops) },
    params: { ops: ops.map((o) => ({ ...o })) },
    python: { ops: ops.map((o) => [o.name, o.magnitude]) },
    expect: same,
  });
  return [
    {
      op: 'color_jitter',
      fields: { order: JITTER.order.join(','), brightness: String(JITTER.brightness), contrast: String(JITTER.contrast), saturation: String(JITTER.saturation), hue: String(JITTER.hue) },
      params: { ...JITTER, order: [...JITTER.order] },
      python: { ...JITTER, order: [...JITTER.order] },
      expect: same,
    },
    {
      op: 'gaussian_blur',
      fields: { kernel_size: String(BLUR.kernel_size), sigma: String(BLUR.sigma) },
      params: { ...BLUR },
      python: { ...BLUR },
      expect: same,
    },
    policy('randaugment', RANDAUGMENT_OPS),
    policy('trivialaugment', TRIVIALAUGMENT_OPS),
  ];
}
