export { ServerStartError, type ServerStartFailure } from './errors.js';
export { freePort } from './free-port.js';
export { descendantPids, isRunning, waitForExit } from './processes.js';
export { type RedisServerHandle, type RedisServerOptions, startRedisServer } from './redis-server.js';
export { type S3ServerHandle, type S3ServerOptions, startS3Server } from './s3-server.js';
export { SHARED_REDIS_URL, tempDir, uniquePrefix } from './temp-dir.js';
export { spawnWatched, type WatchedProcess } from './watchdog.js';
