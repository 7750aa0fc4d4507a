import { pathToFileURL } from 'node:url';
import type { CreateGradientFunction, DataParallelTask, DataParallelThreadInit } from './data-parallel.js';
import type { ThreadContext } from './thread-pool.js';

/** ThreadPool module behind DataParallelTrainer: wraps the user's gradient module around the shared buffers. */
export async function setup(init: DataParallelThreadInit, context: ThreadContext) {
  const mod = (await import(pathToFileURL(init.gradientModule).href)) as {
    createGradientFunction?: CreateGradientFunction;
  };
  if (typeof mod.createGradientFunction !== 'function') {
    throw new Error(`gradient module ${init.gradientModule} must export createGradientFunction(init, context)`);
  }
  const compute = await mod.createGradientFunction(init.init, context);
  const params = new Float32Array(init.params);
  const gradient = new Float32Array(init.gradients, context.threadIndex * init.paramCount * 4, init.paramCount);
  return async (task: DataParallelTask): Promise<{ loss: number }> => {
    gradient.fill(0);
    const { loss } = await compute(params, task.shard, task.globalBatchSize, gradient);
    return { loss };
  };
}
