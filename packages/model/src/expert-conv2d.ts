import * as tf from '@tensorflow/tfjs-core';
import { initializers, type LayerVariable, layers } from '@tensorflow/tfjs-layers';
import { type EksStrategy, type ExpertConvWeights, eksConv2d, sortByRegion } from './eks.js';
import { ModelError } from './errors.js';

type Shape = (number | null)[];
type LayerArgs = NonNullable<ConstructorParameters<typeof layers.Layer>[0]>;

export interface ExpertConv2DArgs extends LayerArgs {
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides?: number;
  /** One expert per region: its name and rank. */
  readonly regions: readonly { readonly name: string; readonly rank: number }[];
  /** s = alpha / rank. Default 16. */
  readonly alpha?: number;
  readonly useBias?: boolean;
  readonly seed?: number;
}

/**
 * A conv with a shared kernel W0 (+ bias) and a low-rank expert per region (A_t: k×k conv Cin→r,
 * Kaiming-uniform; B_t: 1×1 conv r→Cout, zero-initialised; scale alpha/r). Inputs: `[x, regionOneHot]`
 * with `regionOneHot` [N, T] (each sample's region as a one-hot row), so it also works inside a
 * LayersModel graph; `eks(x, regions)` runs the faster host-routed strategies of {@link eksConv2d}.
 */
export class ExpertConv2D extends layers.Layer {
  static readonly className = 'LorkdExpertConv2D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly regions: readonly { readonly name: string; readonly rank: number }[];
  readonly alpha: number;
  readonly useBias: boolean;
  readonly seed: number | undefined;
  private w0?: LayerVariable;
  private bias?: LayerVariable;
  private readonly a: LayerVariable[] = [];
  private readonly b: LayerVariable[] = [];

  constructor(args: ExpertConv2DArgs) {
    super(args);
    if (!(args.filters >= 1 && args.kernelSize >= 1))
      throw new ModelError('ExpertConv2D needs filters >= 1 and kernelSize >= 1', { ...args });
    if (args.regions.length === 0 || args.regions.some((r) => !(r.rank >= 1))) {
      throw new ModelError('ExpertConv2D needs at least one region, each with rank >= 1', { regions: args.regions });
    }
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.strides = args.strides ?? 1;
    this.regions = args.regions.map((r) => ({ name: r.name, rank: r.rank }));
    this.alpha = args.alpha ?? 16;
    this.useBias = args.useBias ?? true;
    this.seed = args.seed;
  }

  override build(inputShape: Shape | Shape[]): void {
    const xShape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const cin = xShape[xShape.length - 1];
    if (typeof cin !== 'number') throw new ModelError('ExpertConv2D needs a known input channel count');
    const k = this.kernelSize;
    const fanIn = k * k * cin;
    this.w0 = this.addWeight('w0', [k, k, cin, this.filters], 'float32', initializers.heUniform({ seed: this.seed }));
    if (this.useBias) this.bias = this.addWeight('bias', [this.filters], 'float32', initializers.zeros());
    this.regions.forEach((r, t) => {
      const limit = 1 / Math.sqrt(fanIn);
      const seed = this.seed === undefined ? undefined : this.seed + 1 + t;
      this.a.push(
        this.addWeight(
          `a_${r.name}`,
          [k, k, cin, r.rank],
          'float32',
          initializers.randomUniform({ minval: -limit, maxval: limit, seed }),
        ),
      );
      this.b.push(this.addWeight(`b_${r.name}`, [r.rank, this.filters], 'float32', initializers.zeros()));
    });
    this.built = true;
  }

  /** The layer's weights in the form the EKS ops take. */
  expertWeights(): ExpertConvWeights {
    if (!this.w0) throw new ModelError('ExpertConv2D is not built yet: apply it to an input first');
    return {
      w0: this.w0.read() as tf.Tensor4D,
      bias: (this.bias?.read() as tf.Tensor1D | undefined) ?? null,
      a: this.a.map((v) => v.read() as tf.Tensor4D),
      b: this.b.map((v) => v.read() as tf.Tensor2D),
      scales: this.regions.map((r) => this.alpha / r.rank),
    };
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      if (!Array.isArray(inputs) || inputs.length !== 2) throw new ModelError('ExpertConv2D takes [x, regionOneHot]');
      const [x, onehot] = inputs as [tf.Tensor4D, tf.Tensor2D];
      const w = this.expertWeights();
      let y: tf.Tensor4D = tf.conv2d(x, w.w0, this.strides, 'same');
      if (w.bias) y = tf.add(y, w.bias);
      // expand [N,T] one-hot to [N, Σr] channel scales (s_t on region t's channels, exact zeros elsewhere)
      const total = this.regions.reduce((s, r) => s + r.rank, 0);
      const expand = new Float32Array(this.regions.length * total);
      let off = 0;
      this.regions.forEach((r, t) => {
        expand.fill(this.alpha / r.rank, t * total + off, t * total + off + r.rank);
        off += r.rank;
      });
      const scale = tf.matMul(onehot, tf.tensor2d(expand, [this.regions.length, total]));
      const h = tf.conv2d(x, tf.concat(w.a as tf.Tensor4D[], 3), this.strides, 'same');
      const hm = tf.mul(h, tf.reshape(scale, [-1, 1, 1, total])) as tf.Tensor4D;
      const low = tf.conv2d(hm, tf.reshape(tf.concat(w.b as tf.Tensor2D[], 0), [1, 1, total, this.filters]), 1, 'same');
      return tf.add(y, low);
    });
  }

  /**
   * EKS on a batch in any order: routes by `regions` (host array) with the given strategy, returns rows in
   * input order (an unsorted batch is gathered into region order and back).
   */
  eks(x: tf.Tensor4D, regions: Int32Array, strategy: EksStrategy = 'auto'): tf.Tensor4D {
    if (!this.built) this.build([x.shape]);
    return tf.tidy(() => {
      const { perm, layout } = sortByRegion(regions, this.regions.length);
      // an already region-sorted batch (what the model feeds every layer) needs no gather in or out
      if (perm.every((p, i) => p === i)) return eksConv2d(x, this.expertWeights(), layout, this.strides, strategy);
      const inv = new Int32Array(perm.length);
      perm.forEach((p, i) => {
        inv[p] = i;
      });
      const sorted = tf.gather(x, tf.tensor1d(perm, 'int32'));
      const y = eksConv2d(sorted, this.expertWeights(), layout, this.strides, strategy);
      return tf.gather(y, tf.tensor1d(inv, 'int32'));
    });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const out = (d: number | null | undefined) => (typeof d === 'number' ? Math.ceil(d / this.strides) : null);
    return [s[0] ?? null, out(s[1]), out(s[2]), this.filters];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      regions: this.regions.map((r) => ({ name: r.name, rank: r.rank })),
      alpha: this.alpha,
      useBias: this.useBias,
      ...(this.seed === undefined ? {} : { seed: this.seed }),
    };
  }
}

tf.serialization.registerClass(ExpertConv2D);
