export { createWinstonLogger, type WinstonLoggerOptions } from './winston-logger.js';
