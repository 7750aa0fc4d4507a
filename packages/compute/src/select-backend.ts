import { type Logger, silentLogger, toValidationIssues, ValidationError } from '@lorkd/contracts';
import { env, getBackend, ready, setBackend } from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BackendUnavailableError } from './errors.js';
import { activeWasmKernels, registerWasmKernels } from './kernels/register-wasm-kernels.js';
import { activateWasmBackend } from './wasm-backend.js';
import './gradients.js';

/** The compute tiers, best first. `native` is the wasm backend with native (oneDNN) kernels registered. */
export const BACKEND_TIERS = ['tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu'] as const;
export type BackendTier = (typeof BACKEND_TIERS)[number];
/** Same values as `LORKD_BACKEND`. */
export type BackendPreference = 'auto' | BackendTier;

export const SelectBackendOptionsSchema = z.object({
  /** `auto` tries every tier best-first; any other value requires exactly that tier (error if unavailable). */
  preference: z.enum(['auto', ...BACKEND_TIERS]).default('auto'),
  /** Silence tfjs's own console warnings (libraries log through the Logger only). */
  quiet: z.boolean().default(true),
});
export type SelectBackendOptions = z.input<typeof SelectBackendOptionsSchema>;

/** Why one tier was or was not taken. */
export type BackendAttempt =
  | { readonly tier: BackendTier; readonly outcome: 'selected'; readonly detail: string }
  | { readonly tier: BackendTier; readonly outcome: 'skipped'; readonly reason: string; readonly hint?: string }
  | { readonly tier: BackendTier; readonly outcome: 'not-tried'; readonly reason: string };

/** The outcome of `selectBackend`: what runs (tier + tfjs backend name) and why each better tier did not. */
export interface BackendDecision {
  readonly tier: BackendTier;
  /** The active tfjs backend name (`tensorflow`, `wasm` or `cpu`). */
  readonly tfBackend: string;
  readonly preference: BackendPreference;
  readonly attempts: readonly BackendAttempt[];
  /** Kernels lorkd registered for this backend. */
  readonly customKernels: readonly string[];
}

type TierResult =
  | { ok: true; tfBackend: string; detail: string; kernels: string[] }
  | { ok: false; reason: string; hint?: string };

/**
 * Picks and activates the compute backend. Order for `auto`: TensorFlow GPU (`@tensorflow/tfjs-node-gpu`) →
 * TensorFlow CPU (`@tensorflow/tfjs-node`) → native kernels on wasm → wasm (SIMD, with lorkd's kernels) → cpu.
 * Logs one line saying what runs and why each better tier was skipped, and returns the same as a decision.
 */
export async function selectBackend(
  options: SelectBackendOptions = {},
  logger: Logger = silentLogger,
): Promise<BackendDecision> {
  const parsed = SelectBackendOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ValidationError('compute backend options', toValidationIssues(parsed.error), { cause: parsed.error });
  }
  const opts = parsed.data;
  if (opts.quiet) env().set('PROD', true);
  const tiers: readonly BackendTier[] = opts.preference === 'auto' ? BACKEND_TIERS : [opts.preference];
  const attempts: BackendAttempt[] = [];
  for (const tier of tiers) {
    const result = await tryTier(tier, logger);
    if (result.ok) {
      attempts.push({ tier, outcome: 'selected', detail: result.detail });
      for (const rest of BACKEND_TIERS.slice(BACKEND_TIERS.indexOf(tier) + 1)) {
        if (opts.preference === 'auto')
          attempts.push({ tier: rest, outcome: 'not-tried', reason: `${tier} was available` });
      }
      const decision: BackendDecision = {
        tier,
        tfBackend: result.tfBackend,
        preference: opts.preference,
        attempts,
        customKernels: result.kernels,
      };
      logger.info(`compute backend: ${tier} (${result.detail})`, {
        backend: tier,
        tfBackend: result.tfBackend,
        preference: opts.preference,
        skipped: attempts
          .filter((a) => a.outcome === 'skipped')
          .map((a) => ({ tier: a.tier, reason: a.outcome === 'skipped' ? a.reason : '' })),
      });
      return decision;
    }
    attempts.push({ tier, outcome: 'skipped', reason: result.reason, ...(result.hint ? { hint: result.hint } : {}) });
  }
  const failed = attempts.filter((a) => a.outcome === 'skipped');
  const first = failed[0];
  throw new BackendUnavailableError(
    opts.preference === 'auto'
      ? `no compute backend could start: ${failed.map((a) => `${a.tier}: ${a.outcome === 'skipped' ? a.reason : ''}`).join('; ')}`
      : `backend '${opts.preference}' is not available: ${first?.outcome === 'skipped' ? first.reason : 'unknown'}${
          first?.outcome === 'skipped' && first.hint ? ` (${first.hint})` : ''
        }. Use --backend auto (LORKD_BACKEND=auto) to fall back to the best available one.`,
    { preference: opts.preference, attempts },
  );
}

async function tryTier(tier: BackendTier, logger: Logger): Promise<TierResult> {
  switch (tier) {
    case 'tensorflow-gpu':
      return tryTensorflow('@tensorflow/tfjs-node-gpu');
    case 'tensorflow':
      return tryTensorflow('@tensorflow/tfjs-node');
    case 'native':
      return tryNative(logger);
    case 'wasm':
      return tryWasm();
    case 'cpu':
      return tryCpu();
  }
}

async function tryTensorflow(pkg: string): Promise<TierResult> {
  try {
    // A variable specifier keeps bundlers and tsc from resolving an optional dependency at build time.
    const specifier: string = pkg;
    await import(specifier);
  } catch (err) {
    const missing = (err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && String(err).includes(pkg);
    return missing
      ? {
          ok: false,
          reason: `${pkg} is not installed`,
          hint: `npm install ${pkg}@4.22.0 where libtensorflow can be downloaded`,
        }
      : {
          ok: false,
          reason: `${pkg} failed to load: ${firstLine(err)}`,
          hint: 'its native libtensorflow is missing or broken; reinstall it',
        };
  }
  try {
    if (!(await setBackend('tensorflow')))
      return { ok: false, reason: `${pkg} loaded but its tensorflow backend failed to initialise` };
    await ready();
  } catch (err) {
    return { ok: false, reason: `${pkg} backend failed to initialise: ${firstLine(err)}` };
  }
  return { ok: true, tfBackend: 'tensorflow', detail: `libtensorflow via ${pkg}`, kernels: [] };
}

interface NativeModule {
  tryLoadNative(
    logger: Logger,
  ): Promise<
    { ok: true; register(backendName: string): void; info: string } | { ok: false; reason: string; hint: string }
  >;
}

async function tryNative(logger: Logger): Promise<TierResult> {
  let mod: NativeModule;
  try {
    // A literal specifier, so that Vite (vitest) resolves it to the .ts source like every other import.
    mod = (await import('./native/index.js')) as NativeModule;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (
      code === 'ERR_MODULE_NOT_FOUND' ||
      code === 'MODULE_NOT_FOUND' ||
      /Cannot find module|Failed to load url/.test(String(err))
    ) {
      return {
        ok: false,
        reason: 'native kernels not built',
        hint: 'build the native addon (see packages/compute/native)',
      };
    }
    return { ok: false, reason: `native kernel loader failed: ${firstLine(err)}` };
  }
  const loaded = await mod.tryLoadNative(logger);
  if (!loaded.ok) return { ok: false, reason: loaded.reason, hint: loaded.hint };
  const wasm = await tryWasm();
  if (!wasm.ok) return wasm;
  loaded.register('wasm');
  return {
    ok: true,
    tfBackend: 'wasm',
    detail: `wasm + native kernels: ${loaded.info}`,
    kernels: activeWasmKernels('wasm'),
  };
}

async function tryWasm(): Promise<TierResult> {
  try {
    const { simd } = await activateWasmBackend();
    const kernels = registerWasmKernels('wasm');
    return {
      ok: true,
      tfBackend: 'wasm',
      detail: `WebAssembly${simd ? ' SIMD' : ' (no SIMD)'}, 1 thread per tfjs instance`,
      kernels,
    };
  } catch (err) {
    return { ok: false, reason: `wasm backend failed: ${firstLine(err)}` };
  }
}

async function tryCpu(): Promise<TierResult> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (getBackend() !== 'cpu' && !(await setBackend('cpu')))
    return { ok: false, reason: 'the cpu backend failed to initialise' };
  return { ok: true, tfBackend: 'cpu', detail: 'plain JavaScript (very slow for conv training)', kernels: [] };
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}
