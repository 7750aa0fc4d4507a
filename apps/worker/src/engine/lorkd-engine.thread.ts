// Compute-thread entry: selects the tfjs backend when the thread boots, then serves LorkdEngines.
import { selectBackend } from '@lorkd/compute';
import type { EngineThreadBoot, EngineThreadInit } from './engine-thread-init.js';
import { LorkdEngine } from './lorkd-engine.js';
import { serveEngine } from './serve-engine.js';

let selected: EngineThreadInit['backend'] | undefined;

serveEngine({
  async prepare(boot) {
    const backend = (boot as EngineThreadBoot | null)?.backend ?? 'auto';
    await selectBackend({ preference: backend });
    selected = backend;
  },
  async create(init) {
    const { backend, ...rest } = init as EngineThreadInit;
    if (backend !== selected) {
      await selectBackend({ preference: backend });
      selected = backend;
    }
    return LorkdEngine.create(rest);
  },
});
