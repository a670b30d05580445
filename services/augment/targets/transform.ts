import { mapPoint, type Affine, type Geometry } from '../ops/geometry.ts';
import type { Box } from '../ops/types.ts';
import type { PixelBox } from './formats.ts';
import { paintRegions, pasteMask, warpMask } from './mask.ts';
import type { TargetBox, TargetKeypoint, TargetSet, TargetSettings } from './set.ts';

/**
 * The targets of an image after an operation of geometry `g`: boxes and keypoints moved by its
 * matrix, then clipped to the output and filtered (`min_visibility`, `min_area`, invisible and
 * occluded keypoints); masks moved the same way and painted where the operation covers the image.
 * With a `paste` (CutMix), `mix` holds the second image's targets, whose part inside the pasted
 * region joins the answer after the image's own.
 */
export function transformTargets(set: TargetSet, g: Geometry, settings: TargetSettings, mix?: TargetSet): TargetSet {
  const boxes: TargetBox[] = [];
  const keypoints: TargetKeypoint[] = [];
  const frame: PixelBox = [0, 0, g.width, g.height];
  for (const item of set.boxes) {
    const kept = filterBox(moveBox(item.box, g.matrix, settings.rotateMethod), frame, g.covered, settings);
    if (kept) boxes.push({ ...item, box: kept });
  }
  for (const point of set.keypoints) {
    const moved = moveKeypoint(point, g.matrix);
    if (settings.removeInvisibleKeypoints && !inside(moved, frame)) continue;
    if (settings.removeOccludedKeypoints && g.covered.some((hole) => inside(moved, hole))) continue;
    keypoints.push(moved);
  }
  const masks = set.masks.map((mask) => warpMask(mask, g.matrix, g.width, g.height, settings.maskFill));
  if (g.paste && mix) {
    const { matrix, region } = g.paste;
    for (const item of mix.boxes) {
      const kept = filterBox(moveBox(item.box, matrix, settings.rotateMethod), region, [], settings);
      if (kept) boxes.push({ ...item, box: kept });
    }
    for (const point of mix.keypoints) {
      const moved = moveKeypoint(point, matrix);
      if (inside(moved, region)) keypoints.push(moved);
    }
    masks.forEach((mask, i) => pasteMask(mask, mix.masks[i]!, matrix, region));
  } else {
    for (const mask of masks) paintRegions(mask, g.covered, settings.maskFill);
  }
  return { boxes, keypoints, masks };
}

/** A box moved by `m`: exact for flips, crops and scales; for turns, the hull of its corners or of its inscribed ellipse. */
export function moveBox([x1, y1, x2, y2]: PixelBox, m: Affine, method: TargetSettings['rotateMethod']): PixelBox {
  const [a, b, , d, e] = m;
  if (method === 'ellipse' || (b === 0 && d === 0)) {
    const [cx, cy] = mapPoint(m, (x1 + x2) / 2, (y1 + y2) / 2);
    const [rx, ry] = [(x2 - x1) / 2, (y2 - y1) / 2];
    const hx = Math.hypot(a * rx, b * ry);
    const hy = Math.hypot(d * rx, e * ry);
    return [cx - hx, cy - hy, cx + hx, cy + hy];
  }
  const corners = [mapPoint(m, x1, y1), mapPoint(m, x2, y1), mapPoint(m, x1, y2), mapPoint(m, x2, y2)];
  const xs = corners.map(([x]) => x);
  const ys = corners.map(([, y]) => y);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

function area([x1, y1, x2, y2]: PixelBox): number {
  return Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
}

/**
 * The box clipped to `frame` and shrunk to the hull of what `covered` leaves of it; undefined when
 * nothing is left or the filters drop it. Visibility compares with the moved box's whole area.
 */
function filterBox(moved: PixelBox, frame: PixelBox, covered: readonly Box[], settings: TargetSettings): PixelBox | undefined {
  const before = area(moved);
  const clipped: PixelBox = [
    Math.max(moved[0], frame[0]),
    Math.max(moved[1], frame[1]),
    Math.min(moved[2], frame[2]),
    Math.min(moved[3], frame[3]),
  ];
  const visible = visiblePart(clipped, covered);
  if (!visible || visible.area <= 0) return undefined;
  if (visible.area < settings.minVisibility * before) return undefined;
  if (area(visible.hull) < settings.minArea) return undefined;
  return visible.hull;
}

/**
 * What `covered` leaves of a box: its area and the hull of the rest. The plane is cut along every
 * edge inside the box into cells that are each wholly covered or not.
 */
export function visiblePart(box: PixelBox, covered: readonly Box[]): { hull: PixelBox; area: number } | undefined {
  const [x1, y1, x2, y2] = box;
  if (!(x2 > x1 && y2 > y1)) return undefined;
  const holes = covered.filter(([hx1, hy1, hx2, hy2]) => hx1 < x2 && hx2 > x1 && hy1 < y2 && hy2 > y1);
  if (holes.length === 0) return { hull: box, area: area(box) };
  const cuts = (lo: number, hi: number, edges: number[]) => [...new Set([lo, hi, ...edges.filter((v) => v > lo && v < hi)])].sort((p, q) => p - q);
  const xs = cuts(x1, x2, holes.flatMap(([hx1, , hx2]) => [hx1, hx2]));
  const ys = cuts(y1, y2, holes.flatMap(([, hy1, , hy2]) => [hy1, hy2]));
  let total = 0;
  const hull: PixelBox = [Infinity, Infinity, -Infinity, -Infinity];
  for (let j = 0; j + 1 < ys.length; j++) {
    const cy = (ys[j]! + ys[j + 1]!) / 2;
    for (let i = 0; i + 1 < xs.length; i++) {
      const cx = (xs[i]! + xs[i + 1]!) / 2;
      if (holes.some((hole) => inside({ x: cx, y: cy }, hole))) continue;
      total += (xs[i + 1]! - xs[i]!) * (ys[j + 1]! - ys[j]!);
      hull[0] = Math.min(hull[0], xs[i]!);
      hull[1] = Math.min(hull[1], ys[j]!);
      hull[2] = Math.max(hull[2], xs[i + 1]!);
      hull[3] = Math.max(hull[3], ys[j + 1]!);
    }
  }
  return total > 0 ? { hull, area: total } : undefined;
}

function inside({ x, y }: { x: number; y: number }, [x1, y1, x2, y2]: readonly number[]): boolean {
  return x >= x1! && x < x2! && y >= y1! && y < y2!;
}

/** A keypoint moved by `m`; its direction turns and its scale grows with the map's linear part. */
export function moveKeypoint(point: TargetKeypoint, m: Affine): TargetKeypoint {
  const [x, y] = mapPoint(m, point.x, point.y);
  const moved: TargetKeypoint = { ...point, x, y };
  if (point.angle !== undefined) {
    const rad = (point.angle * Math.PI) / 180;
    // Screen y points down, so a counter-clockwise angle a has direction (cos a, −sin a).
    const [dx, dy] = [Math.cos(rad), -Math.sin(rad)];
    const [a, b, , d, e] = m;
    const turned = (Math.atan2(-(d * dx + e * dy), a * dx + b * dy) * 180) / Math.PI;
    moved.angle = clean(((turned % 360) + 360) % 360);
  }
  if (point.scale !== undefined) {
    const [a, b, , d, e] = m;
    moved.scale = point.scale * Math.sqrt(Math.abs(a * e - b * d));
  }
  return moved;
}

/** Rounding noise such as 359.99999999999994 for 360 is kept off the answer's angles. */
function clean(angle: number): number {
  const rounded = Math.round(angle * 1e9) / 1e9;
  return rounded === 360 ? 0 : rounded;
}
