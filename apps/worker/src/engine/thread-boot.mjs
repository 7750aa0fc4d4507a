// Entry of a compute thread: registers the TypeScript loader when running from source, then loads
// the engine module named in workerData (which serves the engine over the parent port).
import { workerData } from 'node:worker_threads';

if (workerData.entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(workerData.entry);
