import { PassThrough } from 'node:stream';
import type { CliIo } from './io.js';

/** A CliIo over in-memory streams, for running verbs inside a test. */
export function memoryIo(env: Record<string, string | undefined> = {}, cwd = process.cwd()) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let outText = '';
  let errText = '';
  stdout.on('data', (d: Buffer) => {
    outText += d.toString();
  });
  stderr.on('data', (d: Buffer) => {
    errText += d.toString();
  });
  const controller = new AbortController();
  const io: CliIo = {
    env,
    stdout,
    stderr,
    signal: controller.signal,
    cwd,
    self: { command: process.execPath, args: [] },
  };
  return {
    io,
    abort: () => controller.abort(),
    get stdout() {
      return outText;
    },
    get stderr() {
      return errText;
    },
  };
}
