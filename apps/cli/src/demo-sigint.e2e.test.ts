import { execFileSync } from 'node:child_process';
import { isRunning as alive, tempDir } from '@lorkd/testing';
import { describe, expect, it } from 'vitest';
import { spawnLorkd } from './test-helpers.js';

const pidsOf = (stderr: string) => [...stderr.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));

describe('lorkd demo (processes)', () => {
  it('stops everything it started on Ctrl-C (SIGINT) while the run is going', async () => {
    const dir = await tempDir('lorkd-demo-sigint-');
    const demo = spawnLorkd(['demo', '--steps', '50', '--regions', '2', '--workers', '1', '--out', dir.path], {});
    try {
      await demo.waitFor(/state teacher/, 180_000);
      const pids = pidsOf(demo.output.stderr);
      // redis-server, coordinator and one worker
      expect(pids).toHaveLength(3);
      for (const pid of pids) expect(alive(pid)).toBe(true);
      // ps shows what each child is, so an operator can find and kill one. A just-started child
      // sets its title once its code has loaded: poll for a while.
      const psNames = () =>
        pids.map((pid) => execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).trim());
      let names = psNames();
      for (let i = 0; i < 150 && names[2] !== 'lorkd worker'; i++) {
        await new Promise((r) => setTimeout(r, 200));
        names = psNames();
      }
      expect(names[0]).toMatch(/^redis-server /);
      expect(names[1]).toBe('lorkd coordinator');
      expect(names[2]).toBe('lorkd worker');
      demo.child.kill('SIGINT');
      expect(await demo.exited).toBe(130);
      expect(demo.output.stderr).toMatch(/interrupted; stopping everything/);
      for (const pid of pids) expect(alive(pid)).toBe(false);
    } finally {
      // Whatever failed above, stop the demo the way a user would, so it cleans up after itself.
      if (demo.child.exitCode === null && demo.child.signalCode === null) {
        demo.child.kill('SIGINT');
        await Promise.race([demo.exited, new Promise((r) => setTimeout(r, 60_000))]);
      }
      await dir.remove();
    }
  }, 300_000);
});
