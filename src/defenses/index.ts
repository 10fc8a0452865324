/**
 * robust's defences: input transforms with their gradient policies, the wrapper that puts them in front
 * of a model, the feature-squeezing detector and randomised-smoothing certification. Re-exports only. (The
 * adversarial-training steps live with the trainers in `src/training/`.)
 */
export type { Defense, DefenseContext, DefenseInfo, DefenseSpec, GradientPolicy } from './types.js';
export { blockGradient, bpda, rowKeys } from './gradients.js';
export { median, medianInfo, type MedianOptions } from './median.js';
export { bitDepth, bitDepthInfo, type BitDepthOptions } from './bitDepth.js';
export { gaussianBlur, gaussianBlurInfo, gaussianKernel, type GaussianBlurOptions } from './gaussianBlur.js';
export { jpeg, jpegInfo, type JpegOptions } from './jpeg.js';
export { totalVariation, totalVariationInfo, totalVariationOf, type TotalVariationOptions } from './totalVariation.js';
export { randomNoise, randomNoiseInfo, type RandomNoiseOptions } from './noise.js';
export { resizePad, resizePadInfo, type ResizePadOptions } from './resizePad.js';
export { chainPolicy, compose, type DefendOptions, type DefendedModel } from './defended.js';
export { DEFENSES, defenseNames, getDefense, makeDefense, withDefenses } from './registry.js';
export { defaultSqueezers, detectionCurve, squeezingScores, thresholdAt, type DetectionPoint, type SqueezingOptions } from './detector.js';
export { certifiedAccuracy, certify, type CertifyOptions, type Certificate } from './smoothing.js';
