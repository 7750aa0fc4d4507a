// Redis all-reduce throughput: 1, 10 and 100 MB float32 buffers, 2 and 4 ranks (one OS process per rank), both
// algorithms in f32 and the fp16 transport, next to the raw Redis copy speed (one client SETs then GETs the same
// bytes in 4 MiB chunks) on the same private redis-server, in one run.
//   node --conditions=lorkd-source --import tsx scripts/bench/allreduce.ts [--sizes=1,10,100] [--ranks=2,4]
//        [--modes=direct,reduce-scatter,f16] [--chunk=4]
// Throughput = buffer MB / seconds per all-reduce (median over the iterations, as seen by rank 0).
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Collective, GenerationFence, RedisConnections } from '@lorkd/cluster';
import { startRedisServer } from '@lorkd/testing';
import { flagArgs } from './flag-args.ts';

const args = flagArgs();
const sizes = (args.sizes ?? '1,10,100').split(',').map(Number);
const worlds = (args.ranks ?? '2,4').split(',').map(Number);
const modes = (args.modes ?? 'direct,reduce-scatter,f16').split(',');
const chunkBytes = Number(args.chunk ?? 4) * 1024 * 1024;
const MB = 1e6;
const out = (s: string) => process.stdout.write(`${s}\n`);

/** Closed-form input so any rank can check any index: value(rank, i). */
const value = (rank: number, i: number) => (((i * 7 + rank * 13) % 1000) / 1000 - 0.5) * (1 + (i % 3));
const iterationsFor = (mb: number) => (mb >= 100 ? 2 : mb >= 10 ? 4 : 8);

interface Row {
  world: number;
  mode: string;
  mb: number;
  seconds: number[];
  maxErr: number;
}

async function child(url: string, rank: number, world: number): Promise<void> {
  const connections = await RedisConnections.create({ url });
  const coll = await Collective.create({
    connections,
    prefix: 'bench',
    runId: 'bench',
    generation: 0,
    rank,
    timeoutMs: 600_000,
    chunkBytes,
  });
  const ranks = Array.from({ length: world }, (_, r) => r);
  let step = 0;
  for (const mb of sizes) {
    const n = Math.floor((mb * MB) / 4);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = value(rank, i);
    for (const mode of modes) {
      const opts =
        mode === 'f16'
          ? ({ transport: 'f16', algorithm: 'auto' } as const)
          : ({ transport: 'f32', algorithm: mode as 'direct' | 'reduce-scatter' } as const);
      const seconds: number[] = [];
      let maxErr = 0;
      for (let it = mb >= 100 ? 0 : -1; it < iterationsFor(mb); it++) {
        await coll.barrier('bench', ranks, step++);
        const t0 = process.hrtime.bigint();
        const result = await coll.allReduce('shared', ranks, step++, data, opts);
        const dt = Number(process.hrtime.bigint() - t0) / 1e9;
        if (it >= 0) seconds.push(dt);
        for (let k = 0; k < 1000; k++) {
          const i = Math.floor((k * n) / 1000);
          let expect = Math.fround(value(0, i));
          for (let r = 1; r < world; r++) expect = Math.fround(expect + Math.fround(value(r, i)));
          maxErr = Math.max(maxErr, Math.abs((result[i] as number) - expect));
        }
      }
      if (rank === 0) out(`ROW ${JSON.stringify({ world, mode, mb, seconds, maxErr } satisfies Row)}`);
    }
  }
  await coll.barrier('bench', ranks, step++);
  await coll.close();
  await connections.close();
}

async function rawCopy(url: string, mb: number): Promise<number> {
  const connections = await RedisConnections.create({ url });
  const redis = connections.command;
  const buf = Buffer.alloc(mb * MB, 7);
  const times: number[] = [];
  for (let it = 0; it < iterationsFor(mb) + 1; it++) {
    const t0 = process.hrtime.bigint();
    const set = redis.pipeline();
    for (let off = 0, c = 0; off < buf.length; off += chunkBytes, c++)
      set.set(`raw:${c}`, buf.subarray(off, Math.min(off + chunkBytes, buf.length)));
    await set.exec();
    const get = redis.pipeline();
    for (let off = 0, c = 0; off < buf.length; off += chunkBytes, c++) get.getBuffer(`raw:${c}`);
    await get.exec();
    if (it > 0) times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  await redis.flushdb();
  await connections.close();
  return median(times);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

if (args.child !== undefined) {
  await child(args.url as string, Number(args.child), Number(args.world));
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
const server = await startRedisServer();
try {
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(' ');
  out(
    `redis-server ${server.url}, chunk ${chunkBytes / 2 ** 20} MiB, node ${process.version}, ${cpus().length} cores, load ${load()}`,
  );
  const raw = new Map<number, number>();
  for (const mb of sizes) raw.set(mb, await rawCopy(server.url, mb));
  const rows: Row[] = [];
  for (const world of worlds) {
    const setup = await RedisConnections.create({ url: server.url });
    await (await GenerationFence.create({ connections: setup, prefix: 'bench' })).advance('bench', 0);
    await setup.close();
    const procs = Array.from({ length: world }, (_, rank) =>
      spawn(
        process.execPath,
        [
          ...process.execArgv,
          self,
          `--child=${rank}`,
          `--world=${world}`,
          `--url=${server.url}`,
          ...process.argv.slice(2),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      ),
    );
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve, reject) => {
            let buffered = '';
            p.stdout.on('data', (d: Buffer) => {
              buffered += d.toString();
              const lines = buffered.split('\n');
              buffered = lines.pop() ?? '';
              for (const line of lines)
                if (line.startsWith('ROW ')) {
                  const row = JSON.parse(line.slice(4)) as Row;
                  rows.push(row);
                  const t = median(row.seconds);
                  out(
                    `  ${world} ranks ${row.mode.padEnd(14)} ${String(row.mb).padStart(4)} MB: ${(row.mb / t).toFixed(1).padStart(7)} MB/s (${(t * 1000).toFixed(0)} ms, max err ${row.maxErr.toExponential(1)})`,
                  );
                }
            });
            p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`rank exited with ${code}`))));
          }),
      ),
    );
  }
  out(`load average at the end: ${load()}`);
  out(`\n| ranks | mode | ${sizes.map((mb) => `${mb} MB`).join(' | ')} |`);
  out(`|---|---|${sizes.map(() => '---').join('|')}|`);
  out(
    `| (raw) | one client SET+GET of the bytes | ${sizes.map((mb) => `${(mb / (raw.get(mb) as number)).toFixed(0)} MB/s`).join(' | ')} |`,
  );
  for (const world of worlds)
    for (const mode of modes) {
      const cells = sizes.map((mb) => {
        const row = rows.find((r) => r.world === world && r.mode === mode && r.mb === mb);
        if (!row) return '-';
        const t = median(row.seconds);
        return `${(mb / t).toFixed(0)} MB/s (${((raw.get(mb) as number) / t).toFixed(2)}x raw)`;
      });
      out(`| ${world} | ${mode} | ${cells.join(' | ')} |`);
    }
} finally {
  await server.stop();
}
