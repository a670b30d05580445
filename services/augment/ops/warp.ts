import { affinePart, invertProjective, type Projective } from './geometry.ts';
import type { RawImage } from './types.ts';

export const INTERPOLATIONS = ['nearest', 'bilinear'] as const;
export type Interpolation = (typeof INTERPOLATIONS)[number];

export interface WarpOptions {
  interpolation: Interpolation;
  /** One value per channel, shown where the output's pixel centre maps outside the input. */
  fill: Uint8Array;
}

/**
 * The one resampler over raw pixels: each output pixel of a width×height canvas takes the input
 * under its centre mapped back by `forward`'s inverse, as torchvision's tensor backend samples
 * (`grid_sample`, `align_corners=False`, pixel centres at i + 0.5): bilinear over the four nearest
 * centres, or the nearest centre (ties to even, as `nearbyint`). Rounded to 8 bits. Where the
 * output maps outside the input: a zero fill is torchvision's zero padding (`fill=None`); any other
 * fill is torchvision's explicit `fill`, which at the border blends the zero-padded sample scaled
 * by the in-bounds weight m with the fill: `sample·m + (1 − m)·fill` (its `_apply_grid_transform`).
 * Every geometric operation that is not a pixel permutation moves pixels through this, so their
 * pixels and the targets' matrices cannot drift apart.
 */
export function warp(src: RawImage, forward: Projective, width: number, height: number, options: WarpOptions): RawImage {
  const channels = src.channels;
  const out: RawImage = { data: Buffer.allocUnsafe(width * height * channels), width, height, channels };
  const inverse = invertProjective(forward);
  const affine = affinePart(inverse);
  const sampleRow = options.interpolation === 'nearest' ? nearestRow : bilinearRow;
  for (let y = 0; y < height; y++) {
    const cy = y + 0.5;
    if (affine) {
      const [a, b, c, d, e, f] = affine;
      if (options.interpolation === 'bilinear' && channels === 3) {
        bilinearRowRgb(src, out, y, a * 0.5 + b * cy + c, d * 0.5 + e * cy + f, a, d, options.fill);
        continue;
      }
      sampleRow(src, out, y, a * 0.5 + b * cy + c, d * 0.5 + e * cy + f, a, d, undefined, options.fill);
    } else {
      sampleRow(src, out, y, 0, 0, 0, 0, { m: inverse, cy }, options.fill);
    }
  }
  return out;
}

interface PerspectiveRow {
  m: Projective;
  cy: number;
}

/** Source position of output column x: stepped linearly for an affine map, divided for a perspective one. */
function position(x: number, u0: number, v0: number, du: number, dv: number, row: PerspectiveRow | undefined, at: Float64Array): void {
  if (!row) {
    at[0] = u0 + du * x;
    at[1] = v0 + dv * x;
    return;
  }
  const { m, cy } = row;
  const cx = x + 0.5;
  const w = m[6] * cx + m[7] * cy + m[8];
  at[0] = (m[0] * cx + m[1] * cy + m[2]) / w;
  at[1] = (m[3] * cx + m[4] * cy + m[5]) / w;
}

function bilinearRow(
  src: RawImage,
  out: RawImage,
  y: number,
  u0: number,
  v0: number,
  du: number,
  dv: number,
  row: PerspectiveRow | undefined,
  fill: Uint8Array,
): void {
  const { data, width: sw, height: sh, channels: ch } = src;
  const target = out.data;
  const at = new Float64Array(2);
  let o = y * out.width * ch;
  for (let x = 0; x < out.width; x++, o += ch) {
    // The affine position is computed inline (the same arithmetic as `position`): this loop is
    // most of a rotate's time.
    if (row) position(x, u0, v0, du, dv, row, at);
    // Continuous position to pixel-centre index space.
    const px = (row ? at[0]! : u0 + du * x) - 0.5;
    const py = (row ? at[1]! : v0 + dv * x) - 0.5;
    if (px >= 0 && py >= 0 && px < sw - 1 && py < sh - 1) {
      // All four neighbours inside: no fill to consider (and truncation is floor).
      const x0 = px | 0;
      const y0 = py | 0;
      const fx = px - x0;
      const fy = py - y0;
      const w00 = (1 - fx) * (1 - fy);
      const w10 = fx * (1 - fy);
      const w01 = (1 - fx) * fy;
      const w11 = fx * fy;
      const i00 = (y0 * sw + x0) * ch;
      const i01 = i00 + sw * ch;
      for (let k = 0; k < ch; k++) {
        const v = data[i00 + k]! * w00 + data[i00 + ch + k]! * w10 + data[i01 + k]! * w01 + data[i01 + ch + k]! * w11;
        target[o + k] = roundSample(v);
      }
      continue;
    }
    edgePixel(data, sw, sh, ch, target, o, px, py, fill);
  }
}

/**
 * `bilinearRow` for the commonest case, an affine map over RGB, written out per channel: where all
 * four neighbours are inside (nearly every pixel) it reads them once per pixel, with no bounds
 * test per channel. Same arithmetic in the same order as `bilinearRow`, so the same bytes.
 */
function bilinearRowRgb(src: RawImage, out: RawImage, y: number, u0: number, v0: number, du: number, dv: number, fill: Uint8Array): void {
  const { data, width: sw, height: sh } = src;
  const target = out.data;
  const stride = sw * 3;
  const ow = out.width;
  let o = y * ow * 3;
  for (let x = 0; x < ow; x++, o += 3) {
    const px = u0 + du * x - 0.5;
    const py = v0 + dv * x - 0.5;
    if (px >= 0 && py >= 0 && px < sw - 1 && py < sh - 1) {
      const x0 = px | 0;
      const y0 = py | 0;
      const fx = px - x0;
      const fy = py - y0;
      const w00 = (1 - fx) * (1 - fy);
      const w10 = fx * (1 - fy);
      const w01 = (1 - fx) * fy;
      const w11 = fx * fy;
      const i00 = y0 * stride + x0 * 3;
      const i01 = i00 + stride;
      let v = data[i00]! * w00 + data[i00 + 3]! * w10 + data[i01]! * w01 + data[i01 + 3]! * w11;
      target[o] = roundSample(v);
      v = data[i00 + 1]! * w00 + data[i00 + 4]! * w10 + data[i01 + 1]! * w01 + data[i01 + 4]! * w11;
      target[o + 1] = roundSample(v);
      v = data[i00 + 2]! * w00 + data[i00 + 5]! * w10 + data[i01 + 2]! * w01 + data[i01 + 5]! * w11;
      target[o + 2] = roundSample(v);
      continue;
    }
    edgePixel(data, sw, sh, 3, target, o, px, py, fill);
  }
}

/** One output pixel whose neighbours are not all inside: `bilinearRow`'s border arithmetic. */
function edgePixel(data: Buffer, sw: number, sh: number, ch: number, target: Buffer, o: number, px: number, py: number, fill: Uint8Array): void {
  if (!(px > -1 && py > -1 && px < sw && py < sh)) {
    for (let k = 0; k < ch; k++) target[o + k] = fill[k]!;
    return;
  }
  const x0 = Math.floor(px);
  const y0 = Math.floor(py);
  const fx = px - x0;
  const fy = py - y0;
  const w00 = (1 - fx) * (1 - fy);
  const w10 = fx * (1 - fy);
  const w01 = (1 - fx) * fy;
  const w11 = fx * fy;
  const blend = fill.some((v) => v !== 0);
  const left = x0 >= 0;
  const right = x0 + 1 < sw;
  const top = y0 >= 0;
  const bottom = y0 + 1 < sh;
  const i00 = (y0 * sw + x0) * ch;
  const i01 = i00 + sw * ch;
  const inside = (top && left ? w00 : 0) + (top && right ? w10 : 0) + (bottom && left ? w01 : 0) + (bottom && right ? w11 : 0);
  for (let k = 0; k < ch; k++) {
    const v00 = top && left ? data[i00 + k]! * w00 : 0;
    const v10 = top && right ? data[i00 + ch + k]! * w10 : 0;
    const v01 = bottom && left ? data[i01 + k]! * w01 : 0;
    const v11 = bottom && right ? data[i01 + ch + k]! * w11 : 0;
    const sampled = v00 + v10 + v01 + v11;
    target[o + k] = roundHalfEven(blend ? sampled * inside + (1 - inside) * fill[k]! : sampled);
  }
}

function nearestRow(
  src: RawImage,
  out: RawImage,
  y: number,
  u0: number,
  v0: number,
  du: number,
  dv: number,
  row: PerspectiveRow | undefined,
  fill: Uint8Array,
): void {
  const { data, width: sw, height: sh, channels: ch } = src;
  const target = out.data;
  const at = new Float64Array(2);
  let o = y * out.width * ch;
  for (let x = 0; x < out.width; x++, o += ch) {
    position(x, u0, v0, du, dv, row, at);
    const sx = roundHalfEven(at[0]! - 0.5);
    const sy = roundHalfEven(at[1]! - 0.5);
    if (sx < 0 || sy < 0 || sx >= sw || sy >= sh) {
      for (let k = 0; k < ch; k++) target[o + k] = fill[k]!;
      continue;
    }
    const i = (sy * sw + sx) * ch;
    for (let k = 0; k < ch; k++) target[o + k] = data[i + k]!;
  }
}

/**
 * `roundHalfEven` for a bilinear sample (0 ≤ v < 256), the hot path's rounding: a truncation and
 * two compares cost a third of `Math.round` here. \`r - v\` is exact for these v, so a v just
 * under a half that \`v + 0.5\` rounds up is caught by \`d > 0.5\`.
 */
function roundSample(v: number): number {
  const r = (v + 0.5) | 0;
  const d = r - v;
  return d === 0.5 ? r & ~1 : d > 0.5 ? r - 1 : r;
}

/** `torch.round`'s rounding: halves go to the even neighbour. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && (r & 1) === 1 ? r - 1 : r;
}
