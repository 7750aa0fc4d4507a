import * as tf from '@tensorflow/tfjs-core';
import { type Architecture, buildArchitecture, type ConvNode } from './architecture.js';
import { expertScale, type ModelConfig, type ModelConfigInput, resolveModelConfig } from './config.js';
import type { ExpertConvWeights } from './eks.js';
import { ModelError } from './errors.js';
import { hashString, Rng } from './rng.js';

/** `shared`: all-reduced across every worker. `expert:<region>`: only among workers hosting that region. */
export type SyncGroup = 'shared' | `expert:${string}`;

/** One trainable parameter, in the model's stable order. */
export interface ParamInfo {
  /** Stable name, e.g. `block1.conv1.w0`, `block1.conv1.a.thorax`, `head.thorax.kernel`. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  readonly group: SyncGroup;
  /** Region index for expert factors and heads; undefined for shared parameters. */
  readonly region: number | undefined;
  readonly role:
    | 'kernel'
    | 'bias'
    | 'expert-a'
    | 'expert-b'
    | 'norm-scale'
    | 'norm-offset'
    | 'head-kernel'
    | 'head-bias';
}

let modelCounter = 0;

/** A student (experts on every conv) or teacher/MTL network: its config, graph and named variables. */
export class LorkdModel {
  readonly config: ModelConfig;
  readonly arch: Architecture;
  readonly params: readonly ParamInfo[];
  private readonly vars = new Map<string, tf.Variable>();
  private disposed = false;

  constructor(input: ModelConfigInput) {
    this.config = resolveModelConfig(input);
    this.arch = buildArchitecture(this.config);
    const infos: ParamInfo[] = [];
    const id = modelCounter++;
    const add = (info: Omit<ParamInfo, 'size'>, init: (n: number, rng: Rng) => Float32Array) => {
      const size = info.shape.reduce((a, b) => a * b, 1);
      infos.push({ ...info, size });
      const values = init(size, new Rng((this.config.seed * 7919) ^ hashString(info.name)));
      this.vars.set(info.name, tf.variable(tf.tensor(values, [...info.shape]), true, `lorkd${id}/${info.name}`));
    };
    const zeros = (n: number) => new Float32Array(n);
    const ones = (n: number) => new Float32Array(n).fill(1);
    for (const node of this.arch.nodes) {
      if (node.op === 'conv') {
        const { kernel: k, inChannels: cin, filters: cout } = node;
        const fanIn = k * k * cin;
        add(
          { name: `${node.name}.w0`, shape: [k, k, cin, cout], group: 'shared', region: undefined, role: 'kernel' },
          (n, r) => r.uniform(n, Math.sqrt(6 / fanIn)),
        );
        add({ name: `${node.name}.bias`, shape: [cout], group: 'shared', region: undefined, role: 'bias' }, zeros);
        this.config.regions.forEach((region, t) => {
          if (expertScale(this.config, t) === 0) return;
          const group: SyncGroup = `expert:${region.name}`;
          add(
            {
              name: `${node.name}.a.${region.name}`,
              shape: [k, k, cin, region.rank],
              group,
              region: t,
              role: 'expert-a',
            },
            (n, r) => r.uniform(n, 1 / Math.sqrt(fanIn)),
          );
          add(
            { name: `${node.name}.b.${region.name}`, shape: [region.rank, cout], group, region: t, role: 'expert-b' },
            zeros,
          );
        });
      } else if (node.op === 'gn') {
        const c = node.shape[2] ?? 0;
        add({ name: `${node.name}.gamma`, shape: [c], group: 'shared', region: undefined, role: 'norm-scale' }, ones);
        add({ name: `${node.name}.beta`, shape: [c], group: 'shared', region: undefined, role: 'norm-offset' }, zeros);
      }
    }
    const f = this.arch.featureChannels;
    this.config.regions.forEach((region, t) => {
      const group: SyncGroup = `expert:${region.name}`;
      const shape = this.arch.head === 'dense' ? [f, region.numClasses] : [1, 1, f, region.numClasses];
      add({ name: `head.${region.name}.kernel`, shape, group, region: t, role: 'head-kernel' }, (n, r) =>
        r.uniform(n, Math.sqrt(6 / (f + region.numClasses))),
      );
      add({ name: `head.${region.name}.bias`, shape: [region.numClasses], group, region: t, role: 'head-bias' }, zeros);
    });
    this.params = infos;
  }

  get numRegions(): number {
    return this.config.regions.length;
  }

  /** Index of a region by name; throws a ModelError naming the known regions. */
  regionIndex(name: string): number {
    const i = this.config.regions.findIndex((r) => r.name === name);
    if (i < 0)
      throw new ModelError(
        `unknown region '${name}' (model has: ${this.config.regions.map((r) => r.name).join(', ')})`,
        { region: name },
      );
    return i;
  }

  /** The variable behind a parameter name. */
  variable(name: string): tf.Variable {
    this.assertAlive();
    const v = this.vars.get(name);
    if (!v) throw new ModelError(`unknown parameter '${name}'`, { name });
    return v;
  }

  /** Variables in `params` order. */
  variables(): tf.Variable[] {
    return this.params.map((p) => this.variable(p.name));
  }

  /** The weights of one conv node, in the form the EKS ops take. */
  convWeights(node: ConvNode): ExpertConvWeights {
    const a: (tf.Tensor4D | null)[] = [];
    const b: (tf.Tensor2D | null)[] = [];
    const scales: number[] = [];
    this.config.regions.forEach((region, t) => {
      const s = expertScale(this.config, t);
      scales.push(s);
      a.push(s === 0 ? null : (this.variable(`${node.name}.a.${region.name}`) as tf.Tensor4D));
      b.push(s === 0 ? null : (this.variable(`${node.name}.b.${region.name}`) as tf.Tensor2D));
    });
    return {
      w0: this.variable(`${node.name}.w0`) as tf.Tensor4D,
      bias: this.variable(`${node.name}.bias`) as tf.Tensor1D,
      a,
      b,
      scales,
    };
  }

  /** True when at least one region carries an expert. */
  get hasExperts(): boolean {
    return this.config.regions.some((_, t) => expertScale(this.config, t) !== 0);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
    this.disposed = true;
  }

  private assertAlive(): void {
    if (this.disposed) throw new ModelError('this model has been disposed');
  }
}

/** Region description shared by student and teacher builders. */
export interface RegionInput {
  readonly name: string;
  readonly numClasses: number;
  readonly rank?: number;
}

/** A LoRKD student: the backbone with a low-rank expert per region on every conv. */
export function buildStudent(config: Omit<ModelConfigInput, 'experts'>): LorkdModel {
  return new LorkdModel({ ...config, experts: true });
}

/** A plain network (teacher "foundation model", or the MTL-KD shared student): per-region heads, no experts. */
export function buildTeacher(config: Omit<ModelConfigInput, 'experts'>): LorkdModel {
  return new LorkdModel({ ...config, experts: false });
}

/** Current parameter values by name (copies). */
export function getParams(model: LorkdModel): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const p of model.params) out.set(p.name, (model.variable(p.name).dataSync() as Float32Array).slice());
  return out;
}

/** Sets parameters by name; every given name must exist with the right size. Missing names are left alone. */
export function setParams(model: LorkdModel, values: ReadonlyMap<string, Float32Array>): void {
  const byName = new Map(model.params.map((p) => [p.name, p]));
  for (const [name, data] of values) {
    const info = byName.get(name);
    if (!info) throw new ModelError(`setParams: unknown parameter '${name}'`, { name });
    if (data.length !== info.size) {
      throw new ModelError(
        `setParams: '${name}' has ${data.length} values, expected ${info.size} (shape ${info.shape.join('x')})`,
        {
          name,
        },
      );
    }
  }
  for (const [name, data] of values) {
    const info = byName.get(name) as ParamInfo;
    const t = tf.tensor(data, [...info.shape]);
    model.variable(name).assign(t);
    t.dispose();
  }
}
