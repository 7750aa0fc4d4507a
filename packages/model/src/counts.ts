import type { LorkdModel } from './model.js';

export interface ParamCounts {
  /** Backbone kernels, biases and norms (what every worker all-reduces). */
  readonly backbone: number;
  /** Low-rank factors per region. */
  readonly experts: Readonly<Record<string, number>>;
  /** Head parameters per region. */
  readonly heads: Readonly<Record<string, number>>;
  /** Everything the training model holds. */
  readonly total: number;
  /** A folded expert per region: backbone + that region's head (the experts fold away). */
  readonly foldedExpert: Readonly<Record<string, number>>;
}

export function countParams(model: LorkdModel): ParamCounts {
  let backbone = 0;
  const experts: Record<string, number> = {};
  const heads: Record<string, number> = {};
  for (const r of model.config.regions) {
    experts[r.name] = 0;
    heads[r.name] = 0;
  }
  for (const p of model.params) {
    const r = p.region === undefined ? undefined : model.config.regions[p.region]?.name;
    if (r === undefined) backbone += p.size;
    else if (p.role === 'head-kernel' || p.role === 'head-bias') heads[r] = (heads[r] ?? 0) + p.size;
    else experts[r] = (experts[r] ?? 0) + p.size;
  }
  const total = model.params.reduce((a, p) => a + p.size, 0);
  const foldedExpert: Record<string, number> = {};
  for (const r of model.config.regions) foldedExpert[r.name] = backbone + (heads[r.name] ?? 0);
  return { backbone, experts, heads, total, foldedExpert };
}

export interface FlopCounts {
  /** Forward FLOPs per sample (2 per multiply-add; convs and heads) of the plain network = a folded expert, per region. */
  readonly forwardPerSample: Readonly<Record<string, number>>;
  /** Extra forward FLOPs per sample of a region's low-rank path during EKS training (k×k conv to r, 1×1 back). */
  readonly expertPathPerSample: Readonly<Record<string, number>>;
  /** Rule of thumb: a training step costs about 3x the forward. */
  readonly trainingFactor: 3;
}

export function countFlops(model: LorkdModel): FlopCounts {
  let conv = 0;
  const low: Record<string, number> = {};
  const forward: Record<string, number> = {};
  for (const r of model.config.regions) low[r.name] = 0;
  for (const node of model.arch.nodes) {
    if (node.op !== 'conv') continue;
    const [ho = 0, wo = 0] = node.shape;
    const k2 = node.kernel * node.kernel;
    conv += 2 * ho * wo * node.filters * node.inChannels * k2;
    model.config.regions.forEach((r, t) => {
      if (!model.config.experts || r.rank === 0 || !model.convWeights(node).a[t]) return;
      low[r.name] = (low[r.name] ?? 0) + 2 * ho * wo * r.rank * (node.inChannels * k2 + node.filters);
    });
  }
  const [h, w] = model.config.inputShape;
  const f = model.arch.featureChannels;
  for (const r of model.config.regions) {
    forward[r.name] = conv + (model.arch.head === 'dense' ? 2 * f * r.numClasses : 2 * h * w * f * r.numClasses);
  }
  return { forwardPerSample: forward, expertPathPerSample: low, trainingFactor: 3 };
}
