import { createHash } from 'node:crypto';

/** Bumped only if the derivation ever changes; it is part of the hashed text. */
const SEED_DOMAIN = 'augserve-shard-v2';

/**
 * The seed of one variant of one sample: the first four bytes (big-endian) of
 * sha256("augserve-shard-v2\n<seed>\n<epoch>\n<key>\n<variant>"), numbers in decimal and the key
 * as UTF-8. It depends on the sample's key, never on its position, so a sample gives the same
 * bytes in any shard, order or replica.
 * @example sampleSeed(1, 0, 'train/0001', 0) // the same uint32 on every machine
 */
export function sampleSeed(seed: number, epoch: number, key: string, variant: number): number {
  return createHash('sha256').update(`${SEED_DOMAIN}\n${seed}\n${epoch}\n${key}\n${variant}`, 'utf8').digest().readUInt32BE(0);
}

/**
 * The seed that picks a variant's mixing partners (MixUp, Mosaic, CutMix) from the shard: derived
 * from the variant's seed alone, apart from the pipeline's draws, so that the pipeline route with
 * that seed and those partners as `mix_image` gives the same bytes.
 */
export function partnerSeed(variantSeed: number): number {
  return createHash('sha256').update(`augserve-partners-v1\n${variantSeed}`, 'utf8').digest().readUInt32BE(0);
}
