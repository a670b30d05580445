import type { Metadata } from 'sharp';
import { decodeImage, orientedSize, type IntakeLimits } from '../shared/intake.ts';
import { intakeErrors } from './errors.ts';
import type { RawImage } from './ops/types.ts';
import type { PendingImage } from './pipeline.ts';
import type { Reduction } from './runs.ts';
import { DecodedCache } from './shard/cache.ts';

/**
 * What the pipeline and shard routes start a pipeline from. A JPEG is a `PendingImage`: its first
 * run of resamplings says how small it may be decoded (sharp's shrink-on-load, libjpeg's DCT
 * scaling, then libvips's linear reduction to exactly 1/2, 1/4 or 1/8 of each side), and each size
 * is decoded at most once per request, shared by the variants. Other formats gain nothing from
 * waiting and are decoded whole now. With a cache (the shard route's SHARD_CACHE_MB), decodes are
 * kept across requests under the image's sha256 and the reduction.
 */
export async function pipelineSource(bytes: Buffer, field: string, meta: Metadata, limits: IntakeLimits, cache?: DecodedCache): Promise<RawImage | PendingImage> {
  const size = orientedSize(meta);
  const decoded = new Map<Reduction, Promise<RawImage>>();
  const key = cache ? DecodedCache.key(bytes) : '';
  const decode = (factor: Reduction) => {
    let found = decoded.get(factor);
    if (!found) {
      const reduce = factor === 1 ? undefined : { width: Math.max(1, Math.round(size.width / factor)), height: Math.max(1, Math.round(size.height / factor)) };
      const once = () => decodeImage(bytes, limits, intakeErrors, field, meta, reduce);
      found = (cache ? cache.get(factor === 1 ? key : `${key}/${factor}`, once) : once()).then(({ raw }) => raw);
      decoded.set(factor, found);
    }
    return found;
  };
  return meta.format === 'jpeg' ? { ...size, decode } : decode(1);
}
