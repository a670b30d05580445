import { createHash } from 'node:crypto';
import type { DecodedImage } from '../../shared/intake.ts';

/** What `readDecoded` reports, for /metrics. */
export interface CacheCounters {
  hit(): void;
  miss(): void;
  bytes(value: number): void;
}

/**
 * Decoded shard images kept across requests, so that epoch 2 onwards skips decoding (Cachew's
 * idea): keyed by the image member's sha256 (the same bytes decode to the same pixels), least
 * recently used out first, bounded by the raw pixels' bytes. A Map keeps insertion order, so
 * re-inserting on a hit is the LRU bookkeeping.
 */
export class DecodedCache {
  private readonly entries = new Map<string, DecodedImage>();
  private used = 0;

  constructor(
    readonly capacity: number,
    private readonly counters?: CacheCounters,
  ) {}

  static key(bytes: Buffer): string {
    return createHash('sha256').update(bytes).digest('hex');
  }

  get size(): number {
    return this.used;
  }

  /** The cached image for `key`, or `decode()`'s, kept when it fits. Callers must not modify the pixels. */
  async get(key: string, decode: () => Promise<DecodedImage>): Promise<DecodedImage> {
    const found = this.peek(key);
    if (found) {
      this.counters?.hit();
      return found;
    }
    this.counters?.miss();
    const decoded = await decode();
    this.put(key, decoded);
    return decoded;
  }

  /** The cached image for `key` (now the most recently used), uncounted. */
  peek(key: string): DecodedImage | undefined {
    const found = this.entries.get(key);
    if (found) {
      this.entries.delete(key);
      this.entries.set(key, found);
    }
    return found;
  }

  /** Keeps `image` under `key` when it fits, the least recently used out first. */
  put(key: string, image: DecodedImage): void {
    const bytes = image.raw.data.length;
    if (bytes > this.capacity || this.entries.has(key)) return;
    while (this.used + bytes > this.capacity) {
      const [oldest, old] = this.entries.entries().next().value as [string, DecodedImage];
      this.entries.delete(oldest);
      this.used -= old.raw.data.length;
    }
    this.entries.set(key, image);
    this.used += bytes;
    this.counters?.bytes(this.used);
  }
}

/** What `pipelineInput` asks of a cache (`DecodedCache`, or a shard worker's view of the one the event loop keeps). */
export interface ImageCache {
  get(key: string, decode: () => Promise<DecodedImage>): Promise<DecodedImage>;
}

/** The key of an image decoded whole (`factor` 1) or `factor` times smaller, from its bytes' sha256. */
export function entryKey(sha256: string, factor: number): string {
  return factor === 1 ? sha256 : `${sha256}/${factor}`;
}
