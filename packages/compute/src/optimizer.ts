import { z } from 'zod';

export const OptimizerSettingsSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('adam'),
    learningRate: z.number().positive().default(1e-3),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    epsilon: z.number().positive().default(1e-8),
  }),
  z.object({ kind: z.literal('sgd'), learningRate: z.number().positive().default(1e-2) }),
]);
export type OptimizerSettings = z.input<typeof OptimizerSettingsSchema>;

/** An optimizer over one flat parameter vector, updated in place (plain JS, deterministic). */
export interface FlatOptimizer {
  readonly settings: z.output<typeof OptimizerSettingsSchema>;
  /** Number of updates applied so far. */
  readonly steps: number;
  apply(params: Float32Array, gradient: Float32Array): void;
  /** The optimizer's state vectors (Adam: m, v), for checkpoints. */
  state(): { steps: number; slots: Float32Array[] };
  restore(state: { steps: number; slots: Float32Array[] }): void;
}

export function createFlatOptimizer(settings: OptimizerSettings, size: number): FlatOptimizer {
  const s = OptimizerSettingsSchema.parse(settings);
  if (s.kind === 'sgd') {
    let steps = 0;
    return {
      settings: s,
      get steps() {
        return steps;
      },
      apply(params, gradient) {
        for (let i = 0; i < params.length; i++)
          params[i] = (params[i] as number) - s.learningRate * (gradient[i] as number);
        steps++;
      },
      state: () => ({ steps, slots: [] }),
      restore(state) {
        steps = state.steps;
      },
    };
  }
  const m = new Float32Array(size);
  const v = new Float32Array(size);
  let steps = 0;
  return {
    settings: s,
    get steps() {
      return steps;
    },
    apply(params, gradient) {
      steps++;
      const { beta1, beta2, epsilon, learningRate } = s;
      // Bias correction folded into the step size, as tf.train.adam and torch.optim.Adam do.
      const c1 = 1 - beta1 ** steps;
      const c2 = 1 - beta2 ** steps;
      const alpha = (learningRate * Math.sqrt(c2)) / c1;
      const eps = epsilon * Math.sqrt(c2);
      for (let i = 0; i < params.length; i++) {
        const g = gradient[i] as number;
        const mi = beta1 * (m[i] as number) + (1 - beta1) * g;
        const vi = beta2 * (v[i] as number) + (1 - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        params[i] = (params[i] as number) - (alpha * mi) / (Math.sqrt(vi) + eps);
      }
    },
    state: () => ({ steps, slots: [m.slice(), v.slice()] }),
    restore(state) {
      steps = state.steps;
      m.set(state.slots[0] ?? new Float32Array(size));
      v.set(state.slots[1] ?? new Float32Array(size));
    },
  };
}
