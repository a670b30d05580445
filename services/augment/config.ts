import { commonSettings, readConfig, resolveCores, setting, type ConfigOf } from '../shared/config.ts';

export const augmentSettings = {
  ...commonSettings,
  port: setting.int('AUGMENT_PORT', 3001, 0, 65535, 'Port of the augmentation service.'),
  maxOutputPixels: setting.int('MAX_OUTPUT_PIXELS', 40_000_000, 1, 268_402_689, 'Pixels of one output image; a request that would make more is a 400.'),
  sharpConcurrency: setting.int('SHARP_CONCURRENCY', 1, 0, 64, "libvips threads per image (0 = one per core); 1 lets requests run in parallel on libuv's pool instead."),
  maxTargets: setting.int('MAX_TARGETS', 2000, 0, 10_000_000, 'Boxes plus keypoints in one request (mix ones included); beyond, 413. (Masks count against MAX_INPUT_PIXELS: masks × width × height.)'),
  maxShardBytes: setting.int('MAX_SHARD_BYTES', 4 * 1024 ** 3, 1, 2 ** 50, 'Bytes of one tar sent to /v1/augment/shard (each member is also held to MAX_FILE_BYTES); beyond, the shard ends with a 413.'),
  maxShardMembers: setting.int('MAX_SHARD_MEMBERS', 65_536, 1, 10_000_000, 'Tar members in one shard; beyond, the shard ends with a 413.'),
  shardConcurrency: setting.intOrAuto('SHARD_CONCURRENCY', 'auto', 1, 256, 'Samples of one shard augmented at once; reading the tar waits while this many are in flight. `auto` = twice the cores of this process (2 × AUGSERVE_CORES ÷ AUGMENT_PROCESSES, at least 2).'),
  maxConcurrentRequests: setting.intOrAuto('MAX_CONCURRENT_REQUESTS', 'auto', 1, 100_000, 'Requests processed at once by one process; beyond, 503 with Retry-After. `auto` = 8 per core of this process (AUGSERVE_CORES ÷ AUGMENT_PROCESSES), at least 64, so a wide pool is never starved of work.'),
  processes: setting.intOrAuto('AUGMENT_PROCESSES', 1, 1, 256, 'Augment processes sharing the port (node:cluster), each with its own event loop and pool; `auto` = one per 4 cores.'),
  shardCacheMb: setting.int('SHARD_CACHE_MB', 0, 0, 1_048_576, 'MiB of decoded shard images kept across requests (epochs), least recently used first out, keyed by the image member\'s sha256; 0 = off. Per process.'),
  fastJpegDecodePixels: setting.int('FAST_JPEG_DECODE_PIXELS', 1_048_576, 0, 268_402_689, 'The pipeline and shard routes decode plain JPEGs (8-bit YCbCr, no EXIF, no ICC profile) of up to this many pixels with @napi-rs/image instead of sharp: a third of the CPU on small images, pixels within a few levels of libjpeg\'s (4:2:0 chroma is upsampled differently). 0 = always sharp (libjpeg\'s pixels exactly, as PIL decodes them).'),
  shardWorkers: setting.intOrAuto('SHARD_WORKERS', 'auto', 0, 256, 'Worker threads that augment shard samples (decode, pipeline and encoder of each sample) off the event loop, which then only reads and writes the tars; started with the first shard. Shards with mixup or mosaic steps draw partners from the whole shard and stay on the event loop. 0 = every sample on the event loop; `auto` = one per core of this process.'),
};

export type AugmentConfig = Omit<ConfigOf<typeof augmentSettings>, 'cores' | 'processes' | 'maxConcurrentRequests'> & {
  /** AUGSERVE_CORES resolved. */
  cores: number;
  /** AUGMENT_PROCESSES resolved (`auto` = one per 4 cores). */
  processes: number;
  /** MAX_CONCURRENT_REQUESTS resolved (`auto` = 8 per core of this process, at least 64). */
  maxConcurrentRequests: number;
};

export function readAugmentConfig(env: NodeJS.ProcessEnv = process.env): AugmentConfig {
  const config = readConfig(augmentSettings, env);
  const cores = resolveCores(config.cores);
  const processes = config.processes === 'auto' ? Math.max(1, Math.floor(cores / 4)) : config.processes;
  const maxConcurrentRequests = config.maxConcurrentRequests === 'auto' ? Math.max(64, 8 * Math.ceil(cores / processes)) : config.maxConcurrentRequests;
  return { ...config, cores, processes, maxConcurrentRequests };
}
