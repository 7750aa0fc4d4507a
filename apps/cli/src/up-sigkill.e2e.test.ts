import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { descendantPids, freePort, isRunning, tempDir, waitForExit } from '@lorkd/testing';
import { describe, expect, it } from 'vitest';
import { spawnLorkd } from './test-helpers.js';

const args = (pid: number) => {
  try {
    return execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).trim();
  } catch {
    return '(gone)';
  }
};

/**
 * Starts `lorkd up --workers 1` from the sources: bin/lorkd.js runs `node … src/main.ts up` (the
 * `lorkd up` process), which starts redis-server (under its watchdog), a coordinator and a worker, and
 * holds the embedded S3 store in-process. Returns every pid below bin/lorkd.js, by pid, not by name.
 */
async function startUp() {
  const dir = await tempDir('lorkd-up-sigkill-');
  // The embedded servers are what this is about: a configured Redis or store would be used instead.
  const up = spawnLorkd(
    ['up', '--workers', '1', '--port', String(await freePort()), '--dir', join(dir.path, 'cluster'), '--json'],
    { LORKD_REDIS_URL: undefined, LORKD_STORAGE_URL: undefined },
    dir.path,
  );
  await up.waitFor(/"apiUrl"/, 240_000, 'stdout');
  const root = up.child.pid ?? -1;
  // A just-started child sets its title once its code has loaded: wait for the worker's.
  let pids = descendantPids(root);
  let names = pids.map(args);
  for (let i = 0; i < 300 && !names.includes('lorkd worker'); i++) {
    await new Promise((r) => setTimeout(r, 200));
    pids = descendantPids(root);
    names = pids.map(args);
  }
  const cleanup = async () => {
    for (const pid of [root, ...pids]) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    await dir.remove();
  };
  return { up, pids, names, cleanup };
}

describe('lorkd up (processes)', () => {
  it('leaves nothing running when the `lorkd up` process itself is SIGKILLed', async () => {
    const { pids, names, cleanup } = await startUp();
    try {
      // lorkd up, the redis-server watchdog, redis-server, the coordinator and the worker.
      expect(names).toEqual(
        expect.arrayContaining([
          'lorkd up',
          expect.stringMatching(/^redis-server /),
          'lorkd coordinator',
          'lorkd worker',
        ]),
      );
      expect(pids.length).toBeGreaterThanOrEqual(5);
      const lorkdUp = pids[names.indexOf('lorkd up')] ?? -1;
      // No cleanup runs in a SIGKILLed process: each child has to notice on its own.
      process.kill(lorkdUp, 'SIGKILL');
      const left = await waitForExit(pids, 10_000);
      expect(left.map((pid) => `${pid} ${args(pid)}`)).toEqual([]);
    } finally {
      await cleanup();
    }
  }, 300_000);

  it('leaves nothing running when bin/lorkd.js, which runs the sources, is SIGKILLed', async () => {
    const { up, pids, cleanup } = await startUp();
    try {
      up.child.kill('SIGKILL');
      // `lorkd up` notices and stops its children as on Ctrl-C.
      const left = await waitForExit(pids, 30_000);
      expect(left.map((pid) => `${pid} ${args(pid)}`)).toEqual([]);
    } finally {
      await cleanup();
    }
  }, 300_000);
});
