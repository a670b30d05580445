import type { PixelBox } from './formats.ts';

/** Any JSON scalar a request attaches to a box or keypoint; carried, never read. */
export type Label = string | number | boolean | null;

export interface TargetBox {
  box: PixelBox;
  /** Index of the request's box it came from (mix boxes after the image's). */
  index: number;
  label?: Label;
}

export interface TargetKeypoint {
  x: number;
  y: number;
  /** Degrees, counter-clockwise; present when the request gave `[x, y, angle, scale]`. */
  angle?: number;
  scale?: number;
  index: number;
  label?: Label;
}

/** A single-channel 8-bit mask, the image's size. */
export interface Mask {
  data: Buffer;
  width: number;
  height: number;
}

/** Everything that moves with one image, in the internal form. */
export interface TargetSet {
  boxes: TargetBox[];
  keypoints: TargetKeypoint[];
  masks: Mask[];
}

/** How boxes and keypoints are filtered after each operation (albumentations' names). */
export interface TargetSettings {
  minVisibility: number;
  minArea: number;
  removeInvisibleKeypoints: boolean;
  removeOccludedKeypoints: boolean;
  /** `largest_box`: hull of the turned corners; `ellipse`: hull of the turned inscribed ellipse. */
  rotateMethod: 'largest_box' | 'ellipse';
  maskFill: number;
}

export const DEFAULT_TARGET_SETTINGS: TargetSettings = {
  minVisibility: 0,
  minArea: 1,
  removeInvisibleKeypoints: true,
  removeOccludedKeypoints: false,
  rotateMethod: 'largest_box',
  maskFill: 0,
};
