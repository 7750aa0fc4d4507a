// Lists the arrays of an .npz: keys, dtypes, shapes, sizes and label counts.
// node --conditions=lorkd-source --import tsx scripts/data/inspect.ts FILE.npz [--json]
import { parseArgs } from 'node:util';
import { inspectNpz } from '@lorkd/data';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { json: { type: 'boolean', default: false } },
});
const file = positionals[0];
if (!file) {
  process.stderr.write('usage: inspect.ts FILE.npz [--json]\n');
  process.exit(2);
}
try {
  const r = await inspectNpz(file);
  if (values.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else {
    const rows = r.members.map((m) => [
      m.key,
      m.dtype,
      `(${m.shape.join(', ')})`,
      `${(m.bytes / 1e6).toFixed(2)} MB`,
      m.compressed ? `deflate ${(m.compressedBytes / 1e6).toFixed(2)} MB` : 'stored',
      m.labelCounts
        ? Object.entries(m.labelCounts)
            .map(([k, v]) => `${k}:${v}`)
            .join(' ')
        : '',
    ]);
    const widths = rows[0]?.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length))) ?? [];
    process.stdout.write(`${r.file}\n`);
    for (const row of rows) process.stdout.write(`  ${row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}\n`);
  }
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
