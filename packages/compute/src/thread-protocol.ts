/** Messages between `ThreadPool` and `thread-entry` (internal). */
export const TRANSFER = '__lorkdTransfer';

export interface EntryWorkerData {
  readonly modulePath: string;
  readonly init: unknown;
  readonly threadIndex: number;
  readonly threads: number;
}

export interface RemoteError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

export type EntryMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'setup-error'; readonly error: RemoteError }
  | { readonly type: 'task'; readonly id: number; readonly task: unknown }
  | { readonly type: 'result'; readonly id: number; readonly result: unknown }
  | { readonly type: 'error'; readonly id: number; readonly error: RemoteError };

export function toRemoteError(err: unknown): RemoteError {
  if (err instanceof Error) return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  return { name: 'Error', message: String(err) };
}
