export {
  createMetrics,
  type LorkdMetrics,
  type LossPart,
  type MetricsOptions,
  type MetricsSources,
} from './metrics.js';
export { type PromFamily, type PromSample, parsePrometheusText } from './metrics-parse.js';
export { type SignalSource, type UntilStoppedOptions, untilStopped } from './until-stopped.js';
export { createWinstonLogger, type WinstonLoggerOptions } from './winston-logger.js';
