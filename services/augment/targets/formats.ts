import type { ImageSize } from '../ops/types.ts';

/** The box formats a request may use (albumentations' names). */
export const BBOX_FORMATS = ['pascal_voc', 'coco', 'yolo', 'albumentations'] as const;
export type BboxFormat = (typeof BBOX_FORMATS)[number];
export const DEFAULT_BBOX_FORMAT: BboxFormat = 'pascal_voc';

/**
 * The one internal form: `[x_min, y_min, x_max, y_max]` in continuous pixel coordinates of the
 * image it belongs to (pixel column i spans [i, i + 1), so `[0, 0, W, H]` is the whole image).
 */
export type PixelBox = [number, number, number, number];

/**
 * A box of `format` in an image of `size`, to the internal form.
 * @example toPixels([0.5, 0.5, 0.2, 0.4], 'yolo', { width: 100, height: 50 }) // [40, 15, 60, 35]
 */
export function toPixels([a, b, c, d]: readonly [number, number, number, number], format: BboxFormat, { width, height }: ImageSize): PixelBox {
  switch (format) {
    case 'pascal_voc':
      return [a, b, c, d];
    case 'coco':
      return [a, b, a + c, b + d];
    case 'yolo':
      return [(a - c / 2) * width, (b - d / 2) * height, (a + c / 2) * width, (b + d / 2) * height];
    case 'albumentations':
      return [a * width, b * height, c * width, d * height];
  }
}

/** The internal form back to `format`, for an image of `size` (the output's, on the way out). */
export function fromPixels([x1, y1, x2, y2]: PixelBox, format: BboxFormat, { width, height }: ImageSize): PixelBox {
  switch (format) {
    case 'pascal_voc':
      return [x1, y1, x2, y2];
    case 'coco':
      return [x1, y1, x2 - x1, y2 - y1];
    case 'yolo':
      return [(x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height];
    case 'albumentations':
      return [x1 / width, y1 / height, x2 / width, y2 / height];
  }
}
