#!/usr/bin/env node
// The `lorkd` command. Runs the compiled CLI (dist/main.js) when it has been built; otherwise (right
// after `npm ci`) re-executes Node on the TypeScript sources with the `lorkd-source` condition and tsx,
// so `npx lorkd …` works without a build. LORKD_FROM_SOURCE=1 forces the sources.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/main.js', import.meta.url);
const source = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const fromSource = process.env.LORKD_FROM_SOURCE === '1' || !existsSync(dist);

if (!fromSource) {
  await import(dist.href);
} else {
  // tsx is resolved from here, not from the working directory, so `lorkd` works from anywhere.
  const tsx = import.meta.resolve('tsx');
  const args = ['--conditions=lorkd-source', '--import', tsx, source, ...process.argv.slice(2)];
  const child = spawn(process.execPath, args, {
    stdio: 'inherit',
    env: { ...process.env, LORKD_FROM_SOURCE: '1', LORKD_SUPERVISOR_PID: String(process.pid) },
  });
  // LORKD_SUPERVISOR_PID: the child stops on its own when this process is gone (even SIGKILLed).
  // The child shares our terminal (and gets Ctrl-C from it); forward signals sent to us alone.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }
  child.on('error', (err) => {
    process.stderr.write(`lorkd: cannot start node: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1);
  });
}
