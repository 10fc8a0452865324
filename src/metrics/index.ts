/** Metrics: pure functions from per-example outcomes to numbers with confidence intervals. See docs/metrics.md. */
export * from './accuracy.js';
export * from './confidence.js';
export * from './rates.js';
export * from './norms.js';
export * from './curve.js';
export * from './empirical.js';
export * from './score.js';
