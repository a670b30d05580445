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
    const found = this.entries.get(key);
    if (found) {
      this.entries.delete(key);
      this.entries.set(key, found);
      this.counters?.hit();
      return found;
    }
    this.counters?.miss();
    const decoded = await decode();
    const bytes = decoded.raw.data.length;
    if (bytes > this.capacity || this.entries.has(key)) return decoded;
    while (this.used + bytes > this.capacity) {
      const [oldest, image] = this.entries.entries().next().value as [string, DecodedImage];
      this.entries.delete(oldest);
      this.used -= image.raw.data.length;
    }
    this.entries.set(key, decoded);
    this.used += bytes;
    this.counters?.bytes(this.used);
    return decoded;
  }
}
