import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@lorkd/contracts';
import { createHttpServer, type LorkdHttpServer, MemoryRunService } from '@lorkd/coordinator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from './args.js';
import { runCli } from './cli.js';
import { memoryIo } from './test-helpers.js';

const TOKEN = 'cli-test-token-123456';
let server: LorkdHttpServer;
let runs: MemoryRunService;
let env: Record<string, string>;
let dir: string;

const SPEC = `apiVersion: lorkd/v1
name: cli-spec
regions:
  - { name: brain, labels: [a, b], source: { kind: phantom } }
  - { name: limbs, labels: [a, b, c], source: { kind: npz, uri: data/limbs.npz } }
training: { steps: 10 }
`;

beforeAll(async () => {
  runs = new MemoryRunService();
  runs.setQueues([{ name: 'lorkd-train', waiting: 1, active: 2, delayed: 0, completed: 5, failed: 0, paused: false }]);
  server = createHttpServer({ runs, token: TOKEN, logger: silentLogger });
  const url = await server.listen(0);
  env = { LORKD_API_URL: url, LORKD_API_TOKEN: TOKEN };
  dir = await mkdtemp(join(tmpdir(), 'lorkd-cli-test-'));
  await writeFile(join(dir, 'spec.yaml'), SPEC);
  await writeFile(join(dir, 'bad.yaml'), SPEC.replace('steps: 10', 'steps: 0').replace('name: brain', 'name: Brain'));
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

async function cli(argv: string[], extraEnv: Record<string, string | undefined> = {}) {
  const m = memoryIo({ ...env, ...extraEnv }, dir);
  const code = await runCli(argv, m.io);
  return { code, stdout: m.stdout, stderr: m.stderr };
}

describe('lorkd usage and exit codes', () => {
  it('prints help (0), rejects unknown verbs and options (2) with a usage line', async () => {
    expect((await cli(['--help'])).code).toBe(0);
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Commands:/);
    const help = await cli(['demo', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--regions N/);
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    const bad = await cli(['demo', '--steps', 'many', '--nope', '--workers', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual([
      "lorkd demo: --steps must be a whole number, got 'many'",
      'lorkd demo: unknown option --nope',
      'lorkd demo: --workers must be at least 1, got 0',
      'usage: lorkd demo [--regions N] [--workers N] [--steps N] [--out DIR] [--json]  (lorkd demo --help)',
    ]);
    expect((await cli(['run'])).stderr).toMatch(/missing SPEC\.yaml/);
    expect((await cli(['export', 'r1'])).code).toBe(2);
  });

  it('reports each invalid setting on its own line, naming the variable or flag, without echoing secrets', async () => {
    const r = await cli(['status', '--token', 'short'], { LORKD_REDIS_URL: 'http://nope', LORKD_API_PORT: '99999' });
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContain('lorkd status: invalid LORKD_REDIS_URL: must be a redis:// or rediss:// URL');
    expect(lines).toContain('lorkd status: invalid --token: must be at least 8 characters');
    expect(lines.some((l) => l.startsWith('lorkd status: invalid LORKD_API_PORT:'))).toBe(true);
    expect(r.stderr).not.toContain('short');
    const noToken = await cli(['queues'], { LORKD_API_TOKEN: undefined });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/no API token: set LORKD_API_TOKEN/);
  });

  it('validates a spec locally (--dry-run), naming every bad field, and resolves npz paths next to the spec', async () => {
    const ok = await cli(['run', 'spec.yaml', '--dry-run', '--json']);
    expect(ok.code).toBe(0);
    const spec = JSON.parse(ok.stdout) as { regions: { source: { uri?: string } }[] };
    expect(spec.regions[1]?.source.uri).toBe(`file://${join(dir, 'data', 'limbs.npz')}`);
    const bad = await cli(['run', 'bad.yaml', '--dry-run']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/regions\[0\]\.name: must be 1-63 lower-case/);
    expect(bad.stderr).toMatch(/training\.steps:/);
    const missing = await cli(['run', 'nope.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read nope\.yaml: no such file/);
  });
});

describe('lorkd verbs against a coordinator API', () => {
  it('submits, lists, shows, cancels and resumes runs; shows queues; --json for machines', async () => {
    const submitted = await cli(['run', 'spec.yaml', '--json']);
    expect(submitted.code).toBe(0);
    const id = (JSON.parse(submitted.stdout) as { id: string }).id;
    const list = await cli(['status']);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+cli-spec\\s+pending`));
    const one = await cli(['status', id, '--json']);
    expect((JSON.parse(one.stdout) as { id: string }).id).toBe(id);
    const shown = await cli(['status', id]);
    expect(shown.stdout).toMatch(/brain .* 0\/10/);
    expect(shown.stdout).toMatch(/restarts: none/);

    const cancelled = await cli(['cancel', id, '--reason', 'test']);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toMatch(/cancelled: test/);
    expect((await cli(['cancel', id])).code).toBe(1);
    const resumed = await cli(['resume', id]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/training \(generation 1\)/);

    const queues = await cli(['queues']);
    expect(queues.stdout).toMatch(/lorkd-train\s+1\s+2\s+0\s+5\s+0\s+no/);
    expect(JSON.parse((await cli(['queues', '--json'])).stdout)).toHaveLength(1);
    const missing = await cli(['status', 'no-such-run']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no run 'no-such-run'/);
  });

  it('fails with 1 and a clear line when the token is wrong or the coordinator is unreachable', async () => {
    const wrong = await cli(['status'], { LORKD_API_TOKEN: 'wrong-token-00000' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim()).toMatch(/rejected the API token/);
    const down = await cli(['status'], { LORKD_API_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the coordinator at http:\/\/127\.0\.0\.1:9/);
  });
});

describe('lorkd data', () => {
  it('writes phantom data as .npz and inspects it', async () => {
    const made = await cli(['data', 'phantoms', '--out', 'ph.npz', '--regions', '2', '--per-region', '8', '--json']);
    expect(made.code).toBe(0);
    expect((JSON.parse(made.stdout) as { train: number }).train).toBe(16);
    const shown = await cli(['data', 'inspect', 'ph.npz']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/train_images\s+uint8\s+\[16, 28, 28\]/);
    expect((await cli(['data', 'frob'])).code).toBe(2);
    expect((await cli(['data', 'phantoms', '--size', '30', '--out', 'x.npz'])).stderr).toMatch(
      /--size must be 28, 64 or 128/,
    );
  });
});

describe('parseArgs', () => {
  const def = {
    name: 't',
    summary: '',
    usage: '',
    positionals: [{ name: 'A', required: true }],
    options: { n: { type: 'integer', description: '' }, flag: { type: 'boolean', short: 'f', description: '' } },
    examples: [],
  } as const;
  it('takes --x=v, --x v, short flags and -- ', () => {
    expect(parseArgs(def, ['a', '--n=3', '-f']).options).toEqual({ n: 3, flag: true });
    expect(parseArgs(def, ['--n', '4', '--', '--b']).positionals).toEqual(['--b']);
    expect(() => parseArgs(def, ['a', '--n'])).toThrow(/--n needs a value/);
    expect(() => parseArgs(def, ['a', 'b'])).toThrow(/unexpected argument 'b'/);
    expect(() => parseArgs(def, ['a', '--flag=maybe'])).toThrow(/takes no value/);
  });
});
