import { isMainThread } from 'node:worker_threads';
import { Transformer } from '@napi-rs/image';
import { decodeImage, defaultOutputFormat, inspectImage, orientedSize, type IntakeLimits, type OutputFormat } from '../shared/intake.ts';
import { jpegHeader } from '../shared/jpeg.ts';
import { intakeErrors } from './errors.ts';
import type { ImageSize, RawImage } from './ops/types.ts';
import type { PendingImage } from './pipeline.ts';
import type { Reduction } from './runs.ts';
import { DecodedCache, entryKey, type ImageCache } from './shard/cache.ts';

/** What a pipeline starts from: the image (decoded, or pending), its size, and the answer's default format. */
export interface PipelineInput {
  input: RawImage | PendingImage;
  size: ImageSize;
  format: OutputFormat;
}

/**
 * The start of the pipeline and shard routes' pipelines. A JPEG is a `PendingImage`: its first run
 * of resamplings says how small it may be decoded (sharp's shrink-on-load, libjpeg's DCT scaling,
 * then libvips's linear reduction to 1/2, 1/4 or 1/8 of each side). Decoded whole, a plain JPEG
 * (`jpegHeader`, read from its markers alone) of at most `fastDecodePixels`
 * (FAST_JPEG_DECODE_PIXELS) goes to @napi-rs/image: sharp's own cost per image, about 0.5 ms,
 * dominates small images (docs/BENCHMARKS.md, "Issue 24, continued", has the sizes where each
 * wins). Any other image, or one that decoder refuses, goes to sharp. @napi-rs/image upsamples
 * 4:2:0 chroma differently from libjpeg, so its pixels differ by a few levels where chroma changes
 * sharply. Each size is decoded at most once per request and shared by the variants; with a cache
 * (the shard route's SHARD_CACHE_MB) decodes are kept across requests under the image's sha256 and
 * the reduction. Other formats gain nothing from waiting and are decoded whole now.
 */
export async function pipelineInput(
  bytes: Buffer,
  field: string,
  { limits, fastDecodePixels, cache }: { limits: IntakeLimits; fastDecodePixels: number; cache?: ImageCache | undefined },
): Promise<PipelineInput> {
  const header = jpegHeader(bytes);
  const fast = header?.plain === true && header.width * header.height <= Math.min(fastDecodePixels, limits.inputPixels);
  const meta = fast ? undefined : await inspectImage(bytes, limits, intakeErrors, field);
  const size = meta ? orientedSize(meta) : { width: header!.width, height: header!.height };
  const format = meta ? defaultOutputFormat(meta) : 'jpeg';
  const sharpDecode = (reduce?: ImageSize) => decodeImage(bytes, limits, intakeErrors, field, meta, reduce).then(({ raw }) => raw);
  const decoded = new Map<Reduction, Promise<RawImage>>();
  const key = cache ? DecodedCache.key(bytes) : '';
  const decode = (factor: Reduction) => {
    let found = decoded.get(factor);
    if (!found) {
      const once = async () => {
        if (factor > 1) return sharpDecode({ width: Math.max(1, Math.round(size.width / factor)), height: Math.max(1, Math.round(size.height / factor)) });
        return (fast && (await fastDecode(bytes, size))) || sharpDecode();
      };
      found = cache ? cache.get(entryKey(key, factor), async () => ({ raw: await once(), format })).then(({ raw }) => raw) : once();
      decoded.set(factor, found);
    }
    return found;
  };
  const isJpeg = fast || meta!.format === 'jpeg';
  return { input: isJpeg ? { ...size, decode } : await decode(1), size, format };
}

/**
 * A plain JPEG's RGB pixels from @napi-rs/image, or undefined where it fails: sharp then decodes it,
 * or says why not. A shard worker decodes on its own thread (it has nothing else to do meanwhile,
 * and a hop to libuv's pool and back costs more than a small decode); the event loop hands the
 * decode to libuv's pool.
 */
async function fastDecode(bytes: Buffer, size: ImageSize): Promise<RawImage | undefined> {
  try {
    const data = isMainThread ? await new Transformer(bytes).rawPixels() : new Transformer(bytes).rawPixelsSync();
    return data.length === size.width * size.height * 3 ? { data, width: size.width, height: size.height, channels: 3 } : undefined;
  } catch {
    return undefined;
  }
}
