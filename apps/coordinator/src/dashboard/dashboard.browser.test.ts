import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@lorkd/contracts';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, type LorkdHttpServer } from '../http/http-server.js';
import { MemoryRunService } from '../http/memory-run-service.js';
import { DRIVER_SPEC, driveRun } from '../http/run-driver.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-test-token-42';
/** Where the test leaves its screenshot of the run page (named in the note). */
export const SCREENSHOT = join(tmpdir(), 'lorkd-dashboard-run-page.png');

const REPORT = {
  regions: [
    {
      region: 'brain',
      teacher: { accuracy: 0.81 },
      student: { accuracy: 0.74 },
      expert: { accuracy: 0.86, params: 52_000 },
    },
    {
      region: 'thorax',
      teacher: { accuracy: 0.79 },
      student: { accuracy: 0.7 },
      expert: { accuracy: 0.83, params: 52_000 },
    },
  ],
};

let browser: Browser | undefined;
let server: LorkdHttpServer;
let runs: MemoryRunService;
let url: string;

describe.skipIf(!existsSync(CHROMIUM))('dashboard in headless Chromium', () => {
  beforeAll(async () => {
    runs = new MemoryRunService();
    runs.setQueues([
      { name: 'lorkd-train', waiting: 2, active: 1, delayed: 0, completed: 9, failed: 1, paused: false },
    ]);
    server = createHttpServer({
      runs,
      token: TOKEN,
      logger: silentLogger,
      reports: {
        read: async (_id, file) =>
          file === 'report.json' ? new TextEncoder().encode(JSON.stringify(REPORT)) : undefined,
      },
    });
    url = await server.listen(0);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('asks for the token, then shows a run page whose progress, loss chart, restarts and report follow the run', async () => {
    const run = await runs.create(DRIVER_SPEC);
    const page = await (browser as Browser).newPage({ viewport: { width: 1280, height: 1100 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    await page.goto(`${url}/runs/${run.id}`);
    await page.waitForSelector('form#login');
    await page.fill('input[name=token]', 'wrong-token-wrong');
    await page.click('button[type=submit]');
    await page.waitForSelector('form#login .error:text("wrong token")');
    await page.fill('input[name=token]', TOKEN);
    await page.click('button[type=submit]');
    await page.waitForSelector('#regions tr[data-region="brain"]');

    const driving = driveRun(runs, run.id, { stepMs: 300 });
    const seen = new Set<string>();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const step = await page.textContent('#regions tr[data-region="brain"] .step');
      if (step) seen.add(step);
      if (step === '40/40') break;
      await page.waitForTimeout(150);
    }
    await driving;
    expect(seen.size).toBeGreaterThanOrEqual(4);
    expect(seen.has('40/40')).toBe(true);

    await page.waitForSelector('#report tbody tr');
    await page.waitForSelector('[data-testid=phase]:text("done")');
    const lines = await page.$$eval('#loss-chart polyline.series', (els) =>
      els.map((e) => ({
        name: e.getAttribute('data-series'),
        points: (e.getAttribute('points') ?? '').trim().split(/\s+/).length,
      })),
    );
    expect(lines.map((l) => l.name)).toEqual(
      expect.arrayContaining(['brain total', 'brain task', 'brain kd', 'thorax total']),
    );
    expect(Math.min(...lines.map((l) => l.points))).toBeGreaterThanOrEqual(5);
    expect(await page.$$('#loss-chart .restart-marker')).toHaveLength(1);
    expect(await page.$$('#throughput-chart polyline.series')).toHaveLength(2);
    expect(await page.textContent('#restarts')).toMatch(
      /generation 1 · preempted worker local-worker-2 got SIGTERM · from step 20/,
    );
    expect(await page.textContent('#checkpoints')).toMatch(/40.*127\.0 KiB/s);
    const reportRows = await page.$$eval('#report tbody tr', (rows) =>
      rows.map((r) => (r as unknown as { innerText: string }).innerText),
    );
    expect(reportRows[0]).toMatch(/brain\s+81\.0%\s+74\.0%\s+86\.0%\s+52000/);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);

    await page.goto(`${url}/`);
    await page.waitForSelector(`#runs tr[data-run="${run.id}"]`);
    expect(await page.textContent(`#runs tr[data-run="${run.id}"]`)).toMatch(/done/);
    await page.goto(`${url}/queues`);
    await page.waitForSelector('#queues tbody tr');
    expect(await page.textContent('#queues tbody')).toMatch(/lorkd-train\s*2\s*1\s*0\s*9\s*1/);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
