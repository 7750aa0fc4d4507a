import { describe, expect, it } from 'vitest';
import { supervisorPid, watchParent } from './parent-watch.js';

describe('watchParent', () => {
  it('calls back once, when the parent pid changes', async () => {
    let ppid = 4242;
    let calls = 0;
    watchParent(4242, () => calls++, { intervalMs: 5, ppid: () => ppid });
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBe(0);
    ppid = 1;
    await new Promise((r) => setTimeout(r, 30));
    ppid = 7;
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBe(1);
  });

  it('stops watching when asked', async () => {
    let calls = 0;
    const stop = watchParent(4242, () => calls++, { intervalMs: 5, ppid: () => 1 });
    stop();
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBe(0);
  });

  it('reads LORKD_SUPERVISOR_PID', () => {
    expect(supervisorPid({ LORKD_SUPERVISOR_PID: '1234' })).toBe(1234);
    for (const bad of [undefined, '', '1', '0', '-5', 'abc', '12.5'])
      expect(supervisorPid({ LORKD_SUPERVISOR_PID: bad })).toBeUndefined();
  });
});
