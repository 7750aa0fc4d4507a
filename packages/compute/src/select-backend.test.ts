import type { LogFields, Logger } from '@lorkd/contracts';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError } from './errors.js';
import { selectBackend } from './select-backend.js';

function recordingLogger(): Logger & { lines: { level: string; message: string; fields?: LogFields }[] } {
  const lines: { level: string; message: string; fields?: LogFields }[] = [];
  const make = (): Logger => ({
    debug: (message, fields) => lines.push({ level: 'debug', message, ...(fields ? { fields } : {}) }),
    info: (message, fields) => lines.push({ level: 'info', message, ...(fields ? { fields } : {}) }),
    warn: (message, fields) => lines.push({ level: 'warn', message, ...(fields ? { fields } : {}) }),
    error: (message, fields) => lines.push({ level: 'error', message, ...(fields ? { fields } : {}) }),
    child: () => make(),
  });
  return Object.assign(make(), { lines });
}

describe('selectBackend', () => {
  it('auto: skips the tensorflow tiers with a reason and runs the best available one', async () => {
    const logger = recordingLogger();
    const decision = await selectBackend({}, logger);
    expect(['tensorflow-gpu', 'tensorflow', 'native', 'wasm']).toContain(decision.tier);
    expect(tf.getBackend()).toBe(decision.tfBackend);
    const tiers = decision.attempts.map((a) => a.tier);
    expect(tiers).toEqual(['tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu']);
    for (const a of decision.attempts.slice(0, tiers.indexOf(decision.tier))) {
      expect(a.outcome).toBe('skipped');
      expect(a.outcome === 'skipped' && a.reason.length > 0).toBe(true);
    }
    if (decision.tier === 'wasm' || decision.tier === 'native') {
      expect(decision.customKernels).toContain('UnsortedSegmentSum'); // no native version of this one
    }
    const info = logger.lines.filter((l) => l.level === 'info' && l.message.startsWith('compute backend:'));
    expect(info).toHaveLength(1);
    expect(info[0]?.fields?.backend).toBe(decision.tier);
  });

  it('an explicit tier that cannot run fails with a clear error instead of falling back', async () => {
    let installed = true;
    try {
      const specifier: string = '@tensorflow/tfjs-node';
      await import(specifier);
    } catch {
      installed = false;
    }
    if (installed) return; // nothing to check where tfjs-node really works
    const err = await selectBackend({ preference: 'tensorflow' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toMatch(
      /backend 'tensorflow' is not available: @tensorflow\/tfjs-node is not installed/,
    );
    expect((err as Error).message).toMatch(/--backend auto/);
  });

  it('explicit wasm and cpu tiers activate those backends', async () => {
    const wasm = await selectBackend({ preference: 'wasm' });
    expect(wasm).toMatchObject({ tier: 'wasm', tfBackend: 'wasm' });
    expect(tf.getBackend()).toBe('wasm');
    const cpu = await selectBackend({ preference: 'cpu' });
    expect(cpu).toMatchObject({ tier: 'cpu', tfBackend: 'cpu', customKernels: [] });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('rejects an unknown preference naming the allowed values', async () => {
    await expect(selectBackend({ preference: 'gpu' as never })).rejects.toThrow(/tensorflow-gpu/);
  });
});
