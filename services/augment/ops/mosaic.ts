import { DEFAULT_FILL, colourPixel, parseColour } from '../colour.ts';
import { InvalidParamError, InvalidRequestError } from '../errors.ts';
import { conformMix } from './cutmix.ts';
import { IDENTITY, compose, resizing, translation, type Affine, type MixLayer } from './geometry.ts';
import { expected, integer, range } from './params.ts';
import { RESIZE, copyWindow, solidImage } from './raster.ts';
import type { Box, ImageSize, OpContext, Operation, Range, RawImage, Rng } from './types.ts';

/** A 2×2 grid: the image and three mix images. */
export const MOSAIC_MIX_IMAGES = 3;
export const DEFAULT_CENTER_RANGE: Range = [0.25, 0.75];

export interface MosaicTile {
  /** 0: the image; k ≥ 1: the k-th mix image. */
  source: number;
  /** The part of the source shown, in its pixels, x2/y2 exclusive. */
  crop: Box;
  /** Where it is shown, in the output's pixels. */
  cell: Box;
}

export interface MosaicParams {
  output_width?: number;
  output_height?: number;
  /** Fractions of the output on each axis, the same on both. */
  center_range?: number[];
  /** `[cx, cy]` in output pixels: replay. */
  center?: number[];
  fill?: string;
  /** Output only; ignored when sent back (recomputed from the centre). */
  tiles?: unknown;
}

export interface MosaicResolved {
  output_width: number;
  output_height: number;
  center: [number, number];
  tiles: MosaicTile[];
  fill: string;
}

function requireMixes(ctx: OpContext): RawImage[] {
  const mixes = ctx.mixes ?? [];
  if (mixes.length !== MOSAIC_MIX_IMAGES) {
    throw Object.assign(new InvalidRequestError(`expected ${MOSAIC_MIX_IMAGES} mix_image files for mosaic, got ${mixes.length}`), { param: 'mix_image' });
  }
  return mixes;
}

/** An integer drawn uniformly from [lo·n, hi·n]; the nearest integer to its middle when none is inside. */
function coordinate(rng: Rng, [lo, hi]: Range, n: number): number {
  const first = Math.ceil(lo * n);
  const last = Math.floor(hi * n);
  return first <= last ? rng.int(first, last + 1) : Math.round(((lo + hi) / 2) * n);
}

/**
 * The crop of a `source`-sized image that, scaled uniformly to cover `cell`, fills it: as large as
 * the source allows, with the cell's aspect, keeping the corner that touches the centre (the cell's
 * corner opposite `quadrant`: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right).
 */
export function coverCrop(source: ImageSize, cell: Box, quadrant: number): Box {
  const [cw, ch] = [cell[2] - cell[0], cell[3] - cell[1]];
  let [w, h] = [0, 0];
  if (cw > 0 && ch > 0) {
    const s = Math.max(cw / source.width, ch / source.height);
    w = Math.min(source.width, Math.max(1, Math.round(cw / s)));
    h = Math.min(source.height, Math.max(1, Math.round(ch / s)));
  }
  const right = quadrant === 0 || quadrant === 2;
  const bottom = quadrant === 0 || quadrant === 1;
  const x1 = right ? source.width - w : 0;
  const y1 = bottom ? source.height - h : 0;
  return [x1, y1, x1 + w, y1 + h];
}

/** The four tiles of a W×H canvas split at (cx, cy), for sources of the given sizes. */
export function mosaicTiles(sizes: readonly ImageSize[], width: number, height: number, [cx, cy]: readonly [number, number]): MosaicTile[] {
  const cells: Box[] = [
    [0, 0, cx, cy],
    [cx, 0, width, cy],
    [0, cy, cx, height],
    [cx, cy, width, height],
  ];
  return cells.map((cell, k) => ({ source: k, crop: coverCrop(sizes[k]!, cell, k), cell }));
}

function empty([x1, y1, x2, y2]: Box): boolean {
  return x2 <= x1 || y2 <= y1;
}

/** Where a tile moves its source's points: crop, the resize to the cell (libvips' map), placement. */
export function tileMatrix({ crop, cell }: MosaicTile): Affine {
  const from = { width: crop[2] - crop[0], height: crop[3] - crop[1] };
  const to = { width: cell[2] - cell[0], height: cell[3] - cell[1] };
  return compose(translation(cell[0], cell[1]), compose(resizing(from, to), translation(-crop[0], -crop[1])));
}

/**
 * Mosaic (YOLOv4): four images on one canvas split at a centre drawn from `center_range`; the
 * image fills the top-left cell, the mix images the top-right, bottom-left and bottom-right in
 * order, each scaled uniformly (Lanczos, as every resize here) to cover its cell and cropped to it
 * at the corner that touches the centre.
 */
export const mosaic: Operation<MosaicParams, MosaicResolved> = {
  name: 'mosaic',
  sample(rng, size, params, ctx) {
    const mixes = requireMixes(ctx);
    const width = params.output_width === undefined ? size.width : integer('output_width', params.output_width, 1);
    const height = params.output_height === undefined ? size.height : integer('output_height', params.output_height, 1);
    const spread = range('center_range', params.center_range, DEFAULT_CENTER_RANGE, { lowest: 0, highest: 1 });
    let center: [number, number];
    if (params.center !== undefined) {
      const value = params.center;
      if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => Number.isSafeInteger(v))) {
        throw new InvalidParamError(expected('[cx, cy] (two integers)', 'center', value));
      }
      const [cx, cy] = value as [number, number];
      if (cx < 0 || cy < 0 || cx > width || cy > height) {
        throw Object.assign(new InvalidParamError(expected(`a point of the ${width}x${height} output`, 'center', value)), { param: 'center' });
      }
      center = [cx, cy];
    } else {
      center = [coordinate(rng, spread, width), coordinate(rng, spread, height)];
    }
    const fill = parseColour(params.fill ?? DEFAULT_FILL, 'fill').hex;
    return { output_width: width, output_height: height, center, tiles: mosaicTiles([size, ...mixes], width, height, center), fill };
  },
  async apply(image, { output_width, output_height, center, fill }, ctx) {
    const sources = [image, ...requireMixes(ctx)];
    // Recomputed from the centre, so that replaying never trusts a sent-back layout.
    const tiles = mosaicTiles(sources, output_width, output_height, center);
    const canvas = solidImage(output_width, output_height, image.channels, colourPixel(parseColour(fill, 'fill'), image.channels));
    const pieces = await Promise.all(
      tiles.map(({ source, crop, cell }) => {
        if (empty(cell)) return undefined;
        const [x1, y1, x2, y2] = crop;
        return conformMix(sources[source]!, image, (s) =>
          s.extract({ left: x1, top: y1, width: x2 - x1, height: y2 - y1 }).resize(cell[2] - cell[0], cell[3] - cell[1], RESIZE),
        );
      }),
    );
    tiles.forEach(({ cell }, k) => {
      const piece = pieces[k];
      if (piece) copyWindow(piece, 0, 0, canvas, cell[0], cell[1], piece.width, piece.height);
    });
    return canvas;
  },
  geometry({ output_width, output_height, center }, size, ctx) {
    const tiles = mosaicTiles([size, ...requireMixes(ctx)], output_width, output_height, center);
    const sources: MixLayer[] = tiles
      .filter(({ cell }) => !empty(cell))
      .map((tile) => ({ source: tile.source, matrix: tileMatrix(tile), region: tile.cell }));
    return {
      matrix: sources.find(({ source }) => source === 0)?.matrix ?? IDENTITY,
      width: output_width,
      height: output_height,
      covered: [],
      layers: { sources, masks: 'tile' },
    };
  },
};
