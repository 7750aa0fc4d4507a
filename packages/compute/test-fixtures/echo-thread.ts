// Thread module for thread-pool tests: doubles numbers, reports its thread, fails on request.
import type { ThreadContext } from '../src/thread-pool.js';
import { withTransfer } from '../src/thread-pool.js';

export interface EchoInit {
  readonly offset: number;
  readonly shared: SharedArrayBuffer;
}
export type EchoTask =
  | { kind: 'double'; value: number }
  | { kind: 'fail'; message: string }
  | { kind: 'buffer'; length: number }
  | { kind: 'write-shared'; value: number };

export function setup(init: EchoInit, ctx: ThreadContext) {
  if (init.offset < 0) throw new Error('offset must be >= 0');
  const shared = new Int32Array(init.shared);
  return async (task: EchoTask) => {
    switch (task.kind) {
      case 'double':
        await new Promise((r) => setTimeout(r, 5));
        return { value: task.value * 2 + init.offset, thread: ctx.threadIndex, threads: ctx.threads };
      case 'fail':
        throw new Error(task.message);
      case 'buffer': {
        const b = new Float32Array(task.length).fill(ctx.threadIndex + 1);
        return withTransfer({ data: b }, [b.buffer]);
      }
      case 'write-shared':
        shared[ctx.threadIndex] = task.value;
        return { thread: ctx.threadIndex };
    }
  };
}
