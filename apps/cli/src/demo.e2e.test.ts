import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisServer, tempDir } from '@lorkd/testing';
import { describe, expect, it } from 'vitest';

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

const BIN = fileURLToPath(new URL('../bin/lorkd.js', import.meta.url));

function _alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function startDemo(args: string[], env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'demo', ...args], {
    env: { ...process.env, LORKD_FROM_SOURCE: '1', LORKD_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout?.on('data', (d: Buffer) => {
    output.stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output.stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : null))),
  );
  const waitFor = async (re: RegExp, ms: number) => {
    const deadline = Date.now() + ms;
    while (!re.test(output.stderr)) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`demo never printed ${re}:\n${output.stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  return { child, output, exited, waitFor };
}

const _pidsOf = (stderr: string) => [...stderr.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));

describe('lorkd demo (end to end)', () => {
  it('runs end to end with --json, exports experts and report, and logs no credential', async () => {
    const dir = await tempDir('lorkd-demo-e2e-');
    const password = `redis-pw-${Date.now().toString(36)}-secret`;
    const token = `api-token-${Date.now().toString(36)}-secret`;
    let redis: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    try {
      redis = await startRedisServer();
      await setRedisPassword(redis.port, password);
      const demo = startDemo(['--steps', '2', '--regions', '2', '--workers', '1', '--out', dir.path, '--json'], {
        LORKD_REDIS_URL: `redis://:${password}@127.0.0.1:${redis.port}`,
        LORKD_API_TOKEN: token,
      });
      const code = await demo.exited;
      expect(demo.output.stderr).not.toMatch(/lorkd demo: /);
      expect(code).toBe(0);
      const result = JSON.parse(demo.output.stdout) as {
        regions: { region: string; teacher?: number; student?: number; expert?: number }[];
        report: { json: string; html: string };
        experts: string;
        logs: string;
      };
      expect(result.regions.map((r) => r.region)).toEqual(['brain', 'head-neck']);
      for (const r of result.regions) {
        for (const acc of [r.teacher, r.student, r.expert]) expect(acc).toBeGreaterThanOrEqual(0);
      }
      expect(existsSync(result.report.html)).toBe(true);
      for (const region of ['brain', 'head-neck'])
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
