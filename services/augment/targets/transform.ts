import { localLinear, mapPoint, mapProjective, type Affine, type Geometry, type Projective } from '../ops/geometry.ts';
import type { Box } from '../ops/types.ts';
import type { PixelBox } from './formats.ts';
import { paintRegions, pasteMask, warpMask } from './mask.ts';
import type { Mask, TargetBox, TargetKeypoint, TargetSet, TargetSettings } from './set.ts';

/**
 * The targets of an image after an operation of geometry `g`: boxes and keypoints moved by its
 * matrix, then clipped to the output and filtered (`min_visibility`, `min_area`, invisible and
 * occluded keypoints); masks moved the same way and painted where the operation covers the image.
 * With a `paste` (CutMix), `mix` holds the second image's targets, whose part inside the pasted
 * region joins the answer after the image's own.
 */
export function transformTargets(set: TargetSet, g: Geometry, settings: TargetSettings, mix?: TargetSet, mixes?: readonly TargetSet[]): TargetSet {
  if (g.layers) return layerTargets([set, ...(mixes ?? (mix ? [mix] : []))], g, settings);
  const boxes: TargetBox[] = [];
  const keypoints: TargetKeypoint[] = [];
  const frame: PixelBox = [0, 0, g.width, g.height];
  const cover = coverGrid(g.covered);
  const perspective = g.projective;
  for (const item of set.boxes) {
    const moved = perspective ? moveBoxProjective(item.box, perspective) : moveBox(item.box, g.matrix, settings.rotateMethod);
    const kept = filterBox(moved, frame, cover, settings);
    if (kept) boxes.push({ ...item, box: kept });
  }
  for (const point of set.keypoints) {
    const moved = perspective ? moveKeypointProjective(point, perspective) : moveKeypoint(point, g.matrix);
    if (settings.removeInvisibleKeypoints && !inside(moved, frame)) continue;
    if (settings.removeOccludedKeypoints && g.covered.some((hole) => inside(moved, hole))) continue;
    keypoints.push(moved);
  }
  const masks = set.masks.map((mask) => warpMask(mask, perspective ?? g.matrix, g.width, g.height, settings.maskFill));
  if (g.paste && mix) {
    const { matrix, region } = g.paste;
    for (const item of mix.boxes) {
      const kept = filterBox(moveBox(item.box, matrix, settings.rotateMethod), region, undefined, settings);
      if (kept) boxes.push({ ...item, box: kept });
    }
    for (const point of mix.keypoints) {
      const moved = moveKeypoint(point, matrix);
      if (inside(moved, region)) keypoints.push(moved);
    }
    masks.forEach((mask, i) => {
      // A mask the mix image has no partner for (one a MixUp step added) keeps the image's labels.
      if (mix.masks[i]) pasteMask(mask, mix.masks[i], matrix, region);
    });
  } else {
    for (const mask of masks) paintRegions(mask, g.covered, settings.maskFill);
  }
  return { boxes, keypoints, masks };
}

/**
 * The targets of a mixing operation (`Geometry.layers`): each source's boxes and keypoints moved by
 * its layer's matrix and kept inside its region (clipped, then `min_visibility` and `min_area`),
 * in layer order; a source without targets (`sets` shorter than the layers) adds none.
 */
function layerTargets(sets: readonly TargetSet[], g: Geometry, settings: TargetSettings): TargetSet {
  const { sources, masks: combine } = g.layers!;
  const boxes: TargetBox[] = [];
  const keypoints: TargetKeypoint[] = [];
  const whole = (region: Box) => region[0] <= 0 && region[1] <= 0 && region[2] >= g.width && region[3] >= g.height;
  for (const { source, matrix, region } of sources) {
    const set = sets[source];
    if (!set) continue;
    for (const item of set.boxes) {
      const kept = filterBox(moveBox(item.box, matrix, settings.rotateMethod), region, undefined, settings);
      if (kept) boxes.push({ ...item, box: kept });
    }
    for (const point of set.keypoints) {
      const moved = moveKeypoint(point, matrix);
      // Outside a region smaller than the output a keypoint lies under another image: never shown.
      if (!inside(moved, region) && (settings.removeInvisibleKeypoints || !whole(region))) continue;
      keypoints.push(moved);
    }
  }
  let masks: Mask[];
  if (combine === 'stack') {
    masks = sources.flatMap(({ source, matrix }) => (sets[source]?.masks ?? []).map((mask) => warpMask(mask, matrix, g.width, g.height, settings.maskFill)));
  } else {
    // Counted over every source, shown or not: a source whose cell is empty still had its masks.
    const count = Math.max(0, ...sets.map((set) => set.masks.length));
    masks = Array.from({ length: count }, (_, i) => {
      const out: Mask = { data: Buffer.alloc(g.width * g.height, settings.maskFill), width: g.width, height: g.height };
      for (const { source, matrix, region } of sources) {
        const mask = sets[source]?.masks[i];
        if (mask) pasteMask(out, mask, matrix, region);
      }
      return out;
    });
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

/**
 * A box moved by a perspective map: the hull of its moved corners (straight edges stay straight,
 * so the moved box is the quadrilateral they span).
 */
export function moveBoxProjective([x1, y1, x2, y2]: PixelBox, m: Projective): PixelBox {
  const corners = [mapProjective(m, x1, y1), mapProjective(m, x2, y1), mapProjective(m, x1, y2), mapProjective(m, x2, y2)];
  const xs = corners.map(([x]) => x);
  const ys = corners.map(([, y]) => y);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/** A keypoint moved by a perspective map: its direction and scale follow the map's local linear part. */
export function moveKeypointProjective(point: TargetKeypoint, m: Projective): TargetKeypoint {
  const [x, y] = mapProjective(m, point.x, point.y);
  const [a, b, , d, e] = localLinear(m, point.x, point.y);
  return { ...moveKeypoint(point, [a, b, 0, d, e, 0]), x, y };
}

function area([x1, y1, x2, y2]: PixelBox): number {
  return Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
}

/**
 * The box clipped to `frame` and shrunk to the hull of what `covered` leaves of it; undefined when
 * nothing is left or the filters drop it. Visibility compares with the moved box's whole area.
 */
function filterBox(moved: PixelBox, frame: PixelBox, covered: CoverGrid | undefined, settings: TargetSettings): PixelBox | undefined {
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
 * The covered regions as a grid: every hole edge cuts the plane, and each cell of the cuts is
 * wholly covered or not. Built once per operation, so that each box costs a lookup per cell it
 * spans, not a test against every hole (64 holes × 2000 boxes stays in milliseconds).
 */
export interface CoverGrid {
  xs: number[];
  ys: number[];
  /** Row-major, (xs.length − 1) × (ys.length − 1): 1 where the cell is covered. */
  cells: Uint8Array;
}

export function coverGrid(covered: readonly Box[]): CoverGrid | undefined {
  if (covered.length === 0) return undefined;
  const cuts = (values: number[]) => [...new Set(values)].sort((p, q) => p - q);
  const xs = cuts(covered.flatMap(([x1, , x2]) => [x1, x2]));
  const ys = cuts(covered.flatMap(([, y1, , y2]) => [y1, y2]));
  const columns = xs.length - 1;
  const cells = new Uint8Array(Math.max(0, columns * (ys.length - 1)));
  for (const [x1, y1, x2, y2] of covered) {
    const [i0, i1, j0, j1] = [xs.indexOf(x1), xs.indexOf(x2), ys.indexOf(y1), ys.indexOf(y2)];
    for (let j = j0; j < j1; j++) cells.fill(1, j * columns + i0, j * columns + i1);
  }
  return { xs, ys, cells };
}

/** First index of `sorted` whose value is > v. */
function above(sorted: number[], v: number): number {
  let [lo, hi] = [0, sorted.length];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! > v) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The box's edges and the grid's cuts inside it, and the grid index of the first piece's cell. */
function pieces(lo: number, hi: number, cuts: number[]): { edges: number[]; first: number } {
  const start = above(cuts, lo);
  let end = start;
  while (end < cuts.length && cuts[end]! < hi) end++;
  return { edges: [lo, ...cuts.slice(start, end), hi], first: start - 1 };
}

/**
 * What the covered regions leave of a box: its area and the hull of the rest; undefined when
 * nothing is left.
 */
export function visiblePart(box: PixelBox, cover: CoverGrid | undefined): { hull: PixelBox; area: number } | undefined {
  const [x1, y1, x2, y2] = box;
  if (!(x2 > x1 && y2 > y1)) return undefined;
  if (!cover) return { hull: box, area: area(box) };
  const { xs, ys, cells } = cover;
  const columns = xs.length - 1;
  const across = pieces(x1, x2, xs);
  const down = pieces(y1, y2, ys);
  let total = 0;
  const hull: PixelBox = [Infinity, Infinity, -Infinity, -Infinity];
  for (let j = 0; j + 1 < down.edges.length; j++) {
    const row = down.first + j;
    const [top, bottom] = [down.edges[j]!, down.edges[j + 1]!];
    for (let i = 0; i + 1 < across.edges.length; i++) {
      const column = across.first + i;
      if (row >= 0 && row < ys.length - 1 && column >= 0 && column < columns && cells[row * columns + column] === 1) continue;
      const [left, right] = [across.edges[i]!, across.edges[i + 1]!];
      total += (right - left) * (bottom - top);
      if (left < hull[0]) hull[0] = left;
      if (top < hull[1]) hull[1] = top;
      if (right > hull[2]) hull[2] = right;
      if (bottom > hull[3]) hull[3] = bottom;
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
    // Reduced first: a large angle times π would overflow.
    const rad = ((point.angle % 360) * Math.PI) / 180;
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
