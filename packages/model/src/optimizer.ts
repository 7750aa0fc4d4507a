import type { OptimizerSettings } from '@lorkd/contracts';
import * as tf from '@tensorflow/tfjs-core';
import { ModelError } from './errors.js';
import type { LorkdModel, ParamInfo, SyncGroup } from './model.js';

export interface ScheduleSettings {
  readonly kind: 'cosine' | 'constant';
  readonly warmupSteps: number;
  /** Final learning rate as a fraction of the peak (cosine only). */
  readonly minLrRatio: number;
}

/**
 * Learning rate of 0-based `step`: linear warmup over `warmupSteps` ((step+1)/warmup of the peak),
 * then constant or a cosine decay from the peak to `minLrRatio`·peak at `totalSteps - 1`.
 */
export function learningRate(peak: number, schedule: ScheduleSettings, step: number, totalSteps: number): number {
  if (step < schedule.warmupSteps) return (peak * (step + 1)) / schedule.warmupSteps;
  if (schedule.kind === 'constant') return peak;
  const span = Math.max(1, totalSteps - 1 - schedule.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - schedule.warmupSteps) / span));
  return peak * (schedule.minLrRatio + (1 - schedule.minLrRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** Global L2 norm of a gradient map. */
export function globalNorm(grads: ReadonlyMap<string, Float32Array>): number {
  let s = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) s += (g[i] as number) * (g[i] as number);
  return Math.sqrt(s);
}

/**
 * Squared gradient norm per sync group. A worker that holds only some experts sums the reduced
 * per-group values of all groups (shared + every region) to get the global norm for clipping.
 */
export function gradNormSquaredByGroup(
  params: readonly ParamInfo[],
  grads: ReadonlyMap<string, Float32Array>,
): Map<SyncGroup, number> {
  const out = new Map<SyncGroup, number>();
  for (const p of params) {
    const g = grads.get(p.name);
    if (!g) continue;
    let s = 0;
    for (let i = 0; i < g.length; i++) s += (g[i] as number) * (g[i] as number);
    out.set(p.group, (out.get(p.group) ?? 0) + s);
  }
  return out;
}

/**
 * Scales all gradients by min(1, maxNorm / norm). `norm` defaults to the norm of `grads`; pass the
 * global norm when `grads` is only part of the model's gradient. Returns new arrays when scaling.
 */
export function clipByGlobalNorm(
  grads: ReadonlyMap<string, Float32Array>,
  maxNorm: number,
  norm: number = globalNorm(grads),
): { grads: Map<string, Float32Array>; norm: number; scale: number } {
  if (!(maxNorm > 0)) throw new ModelError(`maxNorm must be > 0 (got ${maxNorm})`);
  const scale = norm > maxNorm ? maxNorm / norm : 1;
  const out = new Map<string, Float32Array>();
  for (const [k, g] of grads) {
    if (scale === 1) out.set(k, g);
    else {
      const c = new Float32Array(g.length);
      for (let i = 0; i < g.length; i++) c[i] = (g[i] as number) * scale;
      out.set(k, c);
    }
  }
  return { grads: out, norm, scale };
}

export interface OptimizerOptions {
  readonly optimizer: OptimizerSettings;
  readonly schedule?: ScheduleSettings;
  /** Total steps of the run (for the cosine schedule). */
  readonly totalSteps: number;
}

/** Weight decay applies to kernels and expert factors, not to biases or norm parameters. */
export function decays(p: ParamInfo): boolean {
  return p.role === 'kernel' || p.role === 'expert-a' || p.role === 'expert-b' || p.role === 'head-kernel';
}

/**
 * SGD with momentum (coupled L2 weight decay, optional Nesterov) or AdamW (decoupled decay), applied on
 * the host in float64 and stored as float32, so updates are bit-identical on every backend. State is
 * plain named Float32Arrays (`m:<param>`, `v:<param>` or `momentum:<param>`) for checkpoints.
 */
export class Optimizer {
  private readonly state = new Map<string, Float32Array>();

  constructor(readonly options: OptimizerOptions) {}

  /** Learning rate at 0-based `step`. */
  learningRate(step: number): number {
    const schedule = this.options.schedule ?? { kind: 'constant', warmupSteps: 0, minLrRatio: 1 };
    return learningRate(this.options.optimizer.lr, schedule, step, this.options.totalSteps);
  }

  /** Applies one update (0-based `step`) from the (all-reduced, clipped) gradients; missing entries count as zero. */
  apply(model: LorkdModel, grads: ReadonlyMap<string, Float32Array>, step: number): { lr: number } {
    const lr = this.learningRate(step);
    const o = this.options.optimizer;
    for (const p of model.params) {
      const v = model.variable(p.name);
      const w = v.dataSync() as Float32Array;
      const g = grads.get(p.name) ?? new Float32Array(p.size);
      if (g.length !== p.size) throw new ModelError(`gradient '${p.name}' has ${g.length} values, expected ${p.size}`);
      const next = new Float32Array(p.size);
      const wd = decays(p) ? o.weightDecay : 0;
      if (o.kind === 'sgd') {
        const buf = this.slot(`momentum:${p.name}`, p.size);
        for (let i = 0; i < p.size; i++) {
          const gi = (g[i] as number) + wd * (w[i] as number);
          const b = o.momentum * (buf[i] as number) + gi;
          buf[i] = b;
          const upd = o.nesterov ? gi + o.momentum * b : b;
          next[i] = (w[i] as number) - lr * upd;
        }
      } else {
        const m = this.slot(`m:${p.name}`, p.size);
        const s = this.slot(`v:${p.name}`, p.size);
        const c1 = 1 - o.beta1 ** (step + 1);
        const c2 = 1 - o.beta2 ** (step + 1);
        for (let i = 0; i < p.size; i++) {
          const gi = g[i] as number;
          const mi = o.beta1 * (m[i] as number) + (1 - o.beta1) * gi;
          const vi = o.beta2 * (s[i] as number) + (1 - o.beta2) * gi * gi;
          m[i] = mi;
          s[i] = vi;
          const wi = w[i] as number;
          next[i] = wi - lr * (mi / c1 / (Math.sqrt(vi / c2) + o.epsilon) + wd * wi);
        }
      }
      const t = tf.tensor(next, [...p.shape]);
      v.assign(t);
      t.dispose();
    }
    return { lr };
  }

  /** Copies of the optimizer state. */
  getState(): Map<string, Float32Array> {
    return new Map([...this.state].map(([k, v]) => [k, v.slice()]));
  }

  /** Replaces the optimizer state (e.g. from a checkpoint). */
  setState(state: ReadonlyMap<string, Float32Array>): void {
    this.state.clear();
    for (const [k, v] of state) this.state.set(k, v.slice());
  }

  private slot(key: string, size: number): Float32Array {
    let s = this.state.get(key);
    if (!s) {
      s = new Float32Array(size);
      this.state.set(key, s);
    } else if (s.length !== size) {
      throw new ModelError(
        `optimizer state '${key}' has ${s.length} values, expected ${size}: the checkpoint belongs to another model`,
      );
    }
    return s;
  }
}

export function createOptimizer(options: OptimizerOptions): Optimizer {
  return new Optimizer(options);
}
