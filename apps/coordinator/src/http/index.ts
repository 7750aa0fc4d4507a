export { TOKEN_COOKIE } from './auth.js';
export {
  createHttpServer,
  type HttpServerOptions,
  type LorkdHttpServer,
  type MetricsEndpoint,
  type ReportSource,
} from './http-server.js';
export { MemoryRunService } from './memory-run-service.js';
export { DRIVER_SPEC, driveRun } from './run-driver.js';
export { formatSse } from './sse.js';
