import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startRedisServer, tempDir } from '@lorkd/testing';
import { describe, expect, it } from 'vitest';
import { spawnLorkd } from './test-helpers.js';

/** `CONFIG SET requirepass` over a raw connection (the harness pings without a password). */
async function setRedisPassword(port: number, password: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`CONFIG SET requirepass ${password}\r\n`);
    });
    socket.once('data', (d) => {
      socket.destroy();
      if (d.toString().startsWith('+OK')) resolve();
      else reject(new Error(`CONFIG SET requirepass: ${d.toString()}`));
    });
    socket.once('error', reject);
  });
}

describe('lorkd demo (end to end)', () => {
  it('runs end to end with --json, exports experts and report, and logs no credential', async () => {
    const dir = await tempDir('lorkd-demo-e2e-');
    const password = `redis-pw-${Date.now().toString(36)}-secret`;
    const token = `api-token-${Date.now().toString(36)}-secret`;
    let redis: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    try {
      redis = await startRedisServer();
      await setRedisPassword(redis.port, password);
      const demo = spawnLorkd(
        ['demo', '--steps', '2', '--regions', '2', '--workers', '1', '--out', dir.path, '--json'],
        {
          LORKD_REDIS_URL: `redis://:${password}@127.0.0.1:${redis.port}`,
          LORKD_API_TOKEN: token,
        },
      );
      const code = await demo.exited;
      expect(demo.output.stderr).not.toMatch(/lorkd demo: /);
      expect(code).toBe(0);
      const result = JSON.parse(demo.output.stdout) as {
        regions: { region: string; teacher?: number; student?: number; expert?: number }[];
        report: { json: string; html: string };
        experts: string;
        logs: string;
      };
      expect(result.regions.map((r) => r.region)).toEqual(['limbs', 'pelvis']);
      for (const r of result.regions) {
        for (const acc of [r.teacher, r.student, r.expert]) expect(acc).toBeGreaterThanOrEqual(0);
      }
      expect(existsSync(result.report.html)).toBe(true);
      for (const region of ['limbs', 'pelvis'])
        expect(existsSync(join(result.experts, region, 'model.json'))).toBe(true);

      const logs = await readdir(result.logs);
      expect(logs).toEqual(expect.arrayContaining(['coordinator.log', 'worker-1.log']));
      const text = [
        demo.output.stdout,
        demo.output.stderr,
        ...(await Promise.all(logs.map((f) => readFile(join(result.logs, f), 'utf8')))),
      ].join('\n');
      expect(text.length).toBeGreaterThan(1000);
      for (const secret of [password, token]) expect(text).not.toContain(secret);
      expect(text).not.toMatch(/"?(AWS_SECRET_ACCESS_KEY|secretAccessKey)"?\s*[:=]/);
    } finally {
      await redis?.stop();
      await dir.remove();
    }
  }, 600_000);
});
