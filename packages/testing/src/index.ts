export { freePort } from './free-port.js';
export { type RedisServerHandle, type RedisServerOptions, startRedisServer } from './redis-server.js';
export { type S3ServerHandle, type S3ServerOptions, startS3Server } from './s3-server.js';
export { SHARED_REDIS_URL, tempDir, uniquePrefix } from './temp-dir.js';
