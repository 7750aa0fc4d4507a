// Compute-thread entry: selects the tfjs backend in this thread, then serves a LorkdEngine.
import { selectBackend } from '@lorkd/compute';
import type { EngineThreadInit } from './engine-thread-init.js';
import { LorkdEngine } from './lorkd-engine.js';
import { serveEngine } from './serve-engine.js';

serveEngine(async (init) => {
  const { backend, ...rest } = init as EngineThreadInit;
  await selectBackend({ preference: backend });
  return LorkdEngine.create(rest);
});
