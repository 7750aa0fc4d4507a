import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '@lorkd/contracts';
import { createHttpServer, DRIVER_SPEC, driveRun, type LorkdHttpServer, MemoryRunService } from '@lorkd/coordinator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/lorkd.js', import.meta.url));
const TOKEN = 'follow-test-token-1234';
const hasTmux = spawnSync('tmux', ['-V']).status === 0;

let runs: MemoryRunService;
let server: LorkdHttpServer;
let url: string;

beforeAll(async () => {
  runs = new MemoryRunService();
  server = createHttpServer({ runs, token: TOKEN, logger: silentLogger });
  url = await server.listen(0);
});
afterAll(async () => {
  await server.close();
});

const ESC = String.fromCharCode(27);

describe('lorkd status --follow', () => {
  it('prints one line per event through a pipe (no escape codes) and exits 0 when the run is done', async () => {
    const run = await runs.create(DRIVER_SPEC);
    const child = spawn(process.execPath, [BIN, 'status', run.id, '--follow'], {
      env: { ...process.env, LORKD_API_URL: url, LORKD_API_TOKEN: TOKEN, LORKD_FROM_SOURCE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await driveRun(runs, run.id, { stepMs: 60 });
    const code = await exited;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).not.toContain(ESC);
    const lines = stdout.trim().split('\n');
    expect(lines.some((l) => /teacher step \d+\/10 loss/.test(l))).toBe(true);
    expect(
      lines.some((l) => /brain step \d+\/40 loss [\d.]+ task [\d.]+ kd [\d.]+ [\d.]+ samples\/s ETA/.test(l)),
    ).toBe(true);
    expect(lines.some((l) => /thorax step 40\/40/.test(l))).toBe(true);
    expect(lines.some((l) => /checkpoint step 20 \(120\.6 KiB, 42 ms\)/.test(l))).toBe(true);
    expect(
      lines.some((l) => /restart generation 1 from step 20: preempted: worker local-worker-2 got SIGTERM/.test(l)),
    ).toBe(true);
    expect(lines.at(-1)).toMatch(new RegExp(`^run ${run.id}: done: report s3://`));
  }, 90_000);

  it.skipIf(!hasTmux)(
    'redraws progress bars in place in a terminal (tmux pseudo-terminal)',
    async () => {
      const run = await runs.create(DRIVER_SPEC);
      const socket = `lorkd-test-${process.pid}-${Date.now()}`;
      const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
      const command = `env LORKD_API_URL=${url} LORKD_API_TOKEN=${TOKEN} LORKD_FROM_SOURCE=1 TERM=xterm-256color ${process.execPath} ${BIN} status ${run.id} --follow; echo EXIT=$?; sleep 60`;
      tmux('new-session', '-d', '-s', 'follow', '-x', '140', '-y', '40', command);
      const screens: string[] = [];
      try {
        const driving = driveRun(runs, run.id, { stepMs: 250 });
        const deadline = Date.now() + 80_000;
        let last = '';
        while (Date.now() < deadline) {
          const screen = tmux('capture-pane', '-p', '-t', 'follow');
          if (screen !== last) screens.push(screen);
          last = screen;
          if (/EXIT=\d+/.test(screen)) break;
          await new Promise((r) => setTimeout(r, 80));
        }
        await driving;
        const final = screens.at(-1) ?? '';
        expect(final).toMatch(/EXIT=0/);
        const live = screens.filter((s) => /brain\s+[█▌░]+\s+\d+\/40/.test(s));
        // Several distinct frames were drawn while the run progressed ...
        const steps = new Set(live.map((s) => /brain\s+[█▌░]+\s+(\d+)\/40/.exec(s)?.[1]));
        expect(steps.size).toBeGreaterThanOrEqual(3);
        // ... each in place: the block appears once per screen, never scrolled copies of it.
        for (const s of live) expect(s.match(/^\s+brain /gm)?.length).toBe(1);
        expect(live.some((s) => /loss [\d.]+ \(task [\d.]+ kd [\d.]+\)\s+[\d.]+ samples\/s\s+ETA/.test(s))).toBe(true);
        expect(final).toMatch(/restarts: 1 \(preempted ×1\); last: generation 1 from step 20/);
        expect(final).toMatch(/last checkpoint: step 40 /);
        expect(final).toMatch(/brain\s+█+\s+40\/40 100%/);
        expect(final).toMatch(new RegExp(`run ${run.id}: done`));
      } finally {
        spawnSync('tmux', ['-L', socket, 'kill-server']);
      }
      expect(existsSync(BIN)).toBe(true);
    },
    120_000,
  );
});
