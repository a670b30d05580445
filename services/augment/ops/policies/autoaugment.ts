import { oneOf } from '../params.ts';
import type { Operation } from '../types.ts';
import { applySubOps, autoAugmentSpace, resampler, subOps, subOpsGeometry, type Resampler, type SubOp, type SubOpName } from './table.ts';

export const AUTOAUGMENT_POLICIES = ['imagenet', 'cifar10', 'svhn'] as const;
export type AutoAugmentPolicy = (typeof AUTOAUGMENT_POLICIES)[number];
export const DEFAULT_AUTOAUGMENT_POLICY: AutoAugmentPolicy = 'imagenet';

export interface AutoAugmentParams {
  policy?: AutoAugmentPolicy;
  interpolation?: string;
  fill?: string;
  /** Replay: the sub-operations applied, in order. */
  ops?: SubOp[];
}
export interface AutoAugmentResolved extends Resampler {
  policy: AutoAugmentPolicy;
  ops: SubOp[];
}

/** (op, probability, magnitude bin or none). */
type Step = readonly [SubOpName, number, number | null];
type SubPolicy = readonly [Step, Step];

/** torchvision's `AutoAugment._get_policies`, the 25 sub-policies learned on each dataset. */
const POLICIES: Record<AutoAugmentPolicy, readonly SubPolicy[]> = {
  imagenet: [
    [['Posterize', 0.4, 8], ['Rotate', 0.6, 9]],
    [['Solarize', 0.6, 5], ['AutoContrast', 0.6, null]],
    [['Equalize', 0.8, null], ['Equalize', 0.6, null]],
    [['Posterize', 0.6, 7], ['Posterize', 0.6, 6]],
    [['Equalize', 0.4, null], ['Solarize', 0.2, 4]],
    [['Equalize', 0.4, null], ['Rotate', 0.8, 8]],
    [['Solarize', 0.6, 3], ['Equalize', 0.6, null]],
    [['Posterize', 0.8, 5], ['Equalize', 1.0, null]],
    [['Rotate', 0.2, 3], ['Solarize', 0.6, 8]],
    [['Equalize', 0.6, null], ['Posterize', 0.4, 6]],
    [['Rotate', 0.8, 8], ['Color', 0.4, 0]],
    [['Rotate', 0.4, 9], ['Equalize', 0.6, null]],
    [['Equalize', 0.0, null], ['Equalize', 0.8, null]],
    [['Invert', 0.6, null], ['Equalize', 1.0, null]],
    [['Color', 0.6, 4], ['Contrast', 1.0, 8]],
    [['Rotate', 0.8, 8], ['Color', 1.0, 2]],
    [['Color', 0.8, 8], ['Solarize', 0.8, 7]],
    [['Sharpness', 0.4, 7], ['Invert', 0.6, null]],
    [['ShearX', 0.6, 5], ['Equalize', 1.0, null]],
    [['Color', 0.4, 0], ['Equalize', 0.6, null]],
    [['Equalize', 0.4, null], ['Solarize', 0.2, 4]],
    [['Solarize', 0.6, 5], ['AutoContrast', 0.6, null]],
    [['Invert', 0.6, null], ['Equalize', 1.0, null]],
    [['Color', 0.6, 4], ['Contrast', 1.0, 8]],
    [['Equalize', 0.8, null], ['Equalize', 0.6, null]],
  ],
  cifar10: [
    [['Invert', 0.1, null], ['Contrast', 0.2, 6]],
    [['Rotate', 0.7, 2], ['TranslateX', 0.3, 9]],
    [['Sharpness', 0.8, 1], ['Sharpness', 0.9, 3]],
    [['ShearY', 0.5, 8], ['TranslateY', 0.7, 9]],
    [['AutoContrast', 0.5, null], ['Equalize', 0.9, null]],
    [['ShearY', 0.2, 7], ['Posterize', 0.3, 7]],
    [['Color', 0.4, 3], ['Brightness', 0.6, 7]],
    [['Sharpness', 0.3, 9], ['Brightness', 0.7, 9]],
    [['Equalize', 0.6, null], ['Equalize', 0.5, null]],
    [['Contrast', 0.6, 7], ['Sharpness', 0.6, 5]],
    [['Color', 0.7, 7], ['TranslateX', 0.5, 8]],
    [['Equalize', 0.3, null], ['AutoContrast', 0.4, null]],
    [['TranslateY', 0.4, 3], ['Sharpness', 0.2, 6]],
    [['Brightness', 0.9, 6], ['Color', 0.2, 8]],
    [['Solarize', 0.5, 2], ['Invert', 0.0, null]],
    [['Equalize', 0.2, null], ['AutoContrast', 0.6, null]],
    [['Equalize', 0.2, null], ['Equalize', 0.6, null]],
    [['Color', 0.9, 9], ['Equalize', 0.6, null]],
    [['AutoContrast', 0.8, null], ['Solarize', 0.2, 8]],
    [['Brightness', 0.1, 3], ['Color', 0.7, 0]],
    [['Solarize', 0.4, 5], ['AutoContrast', 0.9, null]],
    [['TranslateY', 0.9, 9], ['TranslateY', 0.7, 9]],
    [['AutoContrast', 0.9, null], ['Solarize', 0.8, 3]],
    [['Equalize', 0.8, null], ['Invert', 0.1, null]],
    [['TranslateY', 0.7, 9], ['AutoContrast', 0.9, null]],
  ],
  svhn: [
    [['ShearX', 0.9, 4], ['Invert', 0.2, null]],
    [['ShearY', 0.9, 8], ['Invert', 0.7, null]],
    [['Equalize', 0.6, null], ['Solarize', 0.6, 6]],
    [['Invert', 0.9, null], ['Equalize', 0.6, null]],
    [['Equalize', 0.6, null], ['Rotate', 0.9, 3]],
    [['ShearX', 0.9, 4], ['AutoContrast', 0.8, null]],
    [['ShearY', 0.9, 8], ['Invert', 0.4, null]],
    [['ShearY', 0.9, 5], ['Solarize', 0.2, 6]],
    [['Invert', 0.9, null], ['AutoContrast', 0.8, null]],
    [['Equalize', 0.6, null], ['Rotate', 0.9, 3]],
    [['ShearX', 0.9, 4], ['Solarize', 0.3, 3]],
    [['ShearY', 0.8, 8], ['Invert', 0.7, null]],
    [['Equalize', 0.9, null], ['TranslateY', 0.6, 6]],
    [['Invert', 0.9, null], ['Equalize', 0.6, null]],
    [['Contrast', 0.3, 3], ['Rotate', 0.8, 4]],
    [['Invert', 0.8, null], ['TranslateY', 0.0, 2]],
    [['ShearY', 0.7, 6], ['Solarize', 0.4, 8]],
    [['Invert', 0.6, null], ['Rotate', 0.8, 4]],
    [['ShearY', 0.3, 7], ['TranslateX', 0.9, 3]],
    [['ShearX', 0.1, 6], ['Invert', 0.6, null]],
    [['Solarize', 0.7, 2], ['TranslateY', 0.6, 7]],
    [['ShearY', 0.8, 4], ['Invert', 0.8, null]],
    [['ShearX', 0.7, 9], ['TranslateY', 0.8, 3]],
    [['ShearY', 0.8, 5], ['AutoContrast', 0.7, null]],
    [['ShearX', 0.7, 2], ['Invert', 0.1, null]],
  ],
};

/** The sub-policies of `policy` (for tests and documentation). */
export function autoAugmentPolicy(policy: AutoAugmentPolicy): readonly SubPolicy[] {
  return POLICIES[policy];
}

/**
 * torchvision's AutoAugment: one of the policy's sub-policies, each of its two steps applied with
 * its probability at its magnitude bin (of 10), a signed magnitude negated on a fair coin.
 */
export const autoaugment: Operation<AutoAugmentParams, AutoAugmentResolved> = {
  name: 'autoaugment',
  sample(rng, size, params) {
    const policy = oneOf('policy', params.policy ?? DEFAULT_AUTOAUGMENT_POLICY, AUTOAUGMENT_POLICIES);
    const resampling = resampler(params);
    if (params.ops !== undefined) return { policy, ...resampling, ops: subOps('ops', params.ops) };
    const space = new Map(autoAugmentSpace(size).map((entry) => [entry.name, entry]));
    const chosen = POLICIES[policy][rng.int(0, POLICIES[policy].length)]!;
    // torchvision's draw order: the sub-policy, both probabilities, then both signs.
    const probs = [rng.next(), rng.next()];
    const signs = [rng.int(0, 2), rng.int(0, 2)];
    const ops: SubOp[] = [];
    chosen.forEach(([name, p, bin], i) => {
      if (!(probs[i]! <= p)) return;
      const entry = space.get(name)!;
      const value = bin === null || !entry.bins ? 0 : entry.bins[bin]!;
      ops.push({ name, magnitude: entry.signed && signs[i] === 0 ? -value : value });
    });
    return { policy, ...resampling, ops };
  },
  async apply(image, params) {
    return applySubOps(image, params.ops, params);
  },
  geometry(params, size) {
    return subOpsGeometry(params.ops, size);
  },
};
