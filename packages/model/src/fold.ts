import * as tf from '@tensorflow/tfjs-core';
import {
  model as functionalModel,
  type LayersModel,
  layers,
  type SymbolicTensor,
  input as symbolicInput,
} from '@tensorflow/tfjs-layers';
import { expertScale } from './config.js';
import { expertDelta, foldedKernel } from './eks.js';
import { ModelError } from './errors.js';
import type { LorkdModel } from './model.js';

type Layer = InstanceType<typeof layers.Layer>;

function layerName(name: string): string {
  return name.replace(/\./g, '_');
}

function resolveRegion(model: LorkdModel, region: number | string): number {
  if (typeof region === 'string') return model.regionIndex(region);
  if (!(Number.isInteger(region) && region >= 0 && region < model.numRegions)) {
    throw new ModelError(`region index ${region} is out of range (the model has ${model.numRegions} regions)`, {
      region,
    });
  }
  return region;
}

export interface ExportOptions {
  /** Fold this region's expert into every conv and keep only its head. Omit for the shared backbone with all heads. */
  readonly region?: number | string;
  /** Model name; default `lorkd_<region>` or `lorkd_shared`. */
  readonly name?: string;
}

/**
 * A plain tfjs LayersModel built only from standard layers (Conv2D, LayerNormalization + Reshape +
 * DepthwiseConv2D for GroupNorm, ReLU, Add, MaxPooling2D, UpSampling2D, Concatenate,
 * GlobalAveragePooling2D + GlobalMaxPooling2D, Dense): loads with `tf.loadLayersModel` anywhere. Input NHWC images, output
 * logits: one output (the region's head) when `region` is given, else one output per region in order.
 */
export function toLayersModel(model: LorkdModel, opts: ExportOptions = {}): LayersModel {
  const region = opts.region === undefined ? undefined : resolveRegion(model, opts.region);
  const pending: [Layer, tf.Tensor[]][] = [];
  const values: SymbolicTensor[] = [];
  const get = (i: number) => values[i] as SymbolicTensor;
  const add = (layer: Layer, inp: SymbolicTensor | SymbolicTensor[], weights?: tf.Tensor[]): SymbolicTensor => {
    if (weights) pending.push([layer, weights]);
    return layer.apply(inp) as SymbolicTensor;
  };
  const eps = model.config.epsilon;
  for (const node of model.arch.nodes) {
    switch (node.op) {
      case 'input':
        values.push(symbolicInput({ shape: [...model.config.inputShape], name: 'image' }));
        break;
      case 'conv': {
        const w = model.convWeights(node);
        const kernel = foldedKernel(w, region ?? -1);
        const conv = layers.conv2d({
          name: layerName(node.name),
          filters: node.filters,
          kernelSize: node.kernel,
          strides: node.stride,
          padding: 'same',
          useBias: true,
        });
        values.push(add(conv, get(node.input), [kernel, tf.clone(w.bias as tf.Tensor1D)]));
        break;
      }
      case 'gn': {
        const [h = 0, w = 0, c = 0] = node.shape;
        const base = layerName(node.name);
        // [H,W,C] -> [H·W, G, C/G]: normalising over axes 1 and 3 gives per-sample, per-group statistics
        let t = add(
          layers.reshape({ name: `${base}_group`, targetShape: [h * w, node.groups, c / node.groups] }),
          get(node.input),
        );
        t = add(
          layers.layerNormalization({ name: `${base}_norm`, axis: [1, 3], center: false, scale: false, epsilon: eps }),
          t,
        );
        t = add(layers.reshape({ name: `${base}_ungroup`, targetShape: [h, w, c] }), t);
        const gamma = tf.reshape(model.variable(`${node.name}.gamma`), [1, 1, c, 1]);
        const beta = tf.clone(model.variable(`${node.name}.beta`));
        values.push(
          add(layers.depthwiseConv2d({ name: `${base}_affine`, kernelSize: 1, useBias: true }), t, [gamma, beta]),
        );
        break;
      }
      case 'relu':
        values.push(add(layers.reLU(), get(node.input)));
        break;
      case 'add':
        values.push(add(layers.add(), [get(node.inputs[0]), get(node.inputs[1])]));
        break;
      case 'maxpool':
        values.push(add(layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'valid' }), get(node.input)));
        break;
      case 'upsample':
        values.push(add(layers.upSampling2d({ size: [2, 2] }), get(node.input)));
        break;
      case 'concat':
        values.push(add(layers.concatenate({ axis: -1 }), [get(node.inputs[0]), get(node.inputs[1])]));
        break;
      case 'gap': {
        const v = get(node.input);
        const pooled = [add(layers.globalAveragePooling2d({}), v), add(layers.globalMaxPooling2d({}), v)];
        values.push(add(layers.concatenate({ axis: -1 }), pooled));
        break;
      }
    }
  }
  const feats = values[values.length - 1] as SymbolicTensor;
  const heads = region === undefined ? model.config.regions.map((_, t) => t) : [region];
  const outputs = heads.map((t) => {
    const r = model.config.regions[t] as { name: string; numClasses: number };
    const name = region === undefined ? `head_${r.name}` : 'head';
    const kernel = tf.clone(model.variable(`head.${r.name}.kernel`));
    const bias = tf.clone(model.variable(`head.${r.name}.bias`));
    const layer =
      model.arch.head === 'dense'
        ? layers.dense({ name, units: r.numClasses, useBias: true })
        : layers.conv2d({ name, filters: r.numClasses, kernelSize: 1, padding: 'same', useBias: true });
    return add(layer, feats, [kernel, bias]);
  });
  const name = opts.name ?? (region === undefined ? 'lorkd_shared' : `lorkd_${model.config.regions[region]?.name}`);
  const result = functionalModel({
    inputs: get(0),
    outputs: outputs.length === 1 ? (outputs[0] as SymbolicTensor) : outputs,
    name,
  });
  for (const [layer, weights] of pending) {
    layer.setWeights(weights);
    tf.dispose(weights);
  }
  return result;
}

/** Expert `region` of a student as a plain LayersModel of the shared student's size (W0 + s·ΔW folded into every conv). */
export function fold(student: LorkdModel, region: number | string): LayersModel {
  return toLayersModel(student, { region });
}

/**
 * Switches a folded expert from region `from` to region `to` in place, without storing T models:
 * every conv kernel becomes W − s_from·ΔW_from + s_to·ΔW_to, and the head takes region `to`'s weights
 * (the two regions must have the same number of classes).
 */
export function switchExpert(
  folded: LayersModel,
  student: LorkdModel,
  from: number | string,
  to: number | string,
): void {
  const a = resolveRegion(student, from);
  const b = resolveRegion(student, to);
  const ra = student.config.regions[a] as { name: string; numClasses: number };
  const rb = student.config.regions[b] as { name: string; numClasses: number };
  if (ra.numClasses !== rb.numClasses) {
    throw new ModelError(
      `cannot switch '${ra.name}' (${ra.numClasses} classes) to '${rb.name}' (${rb.numClasses} classes) in place: the heads differ; fold('${rb.name}') instead`,
      { from: ra.name, to: rb.name },
    );
  }
  for (const node of student.arch.nodes) {
    if (node.op !== 'conv') continue;
    const layer = folded.getLayer(layerName(node.name));
    const w = student.convWeights(node);
    const next = tf.tidy(() => {
      let k = layer.getWeights()[0] as tf.Tensor;
      for (const [t, sign] of [
        [a, -1],
        [b, 1],
      ] as const) {
        const s = expertScale(student.config, t);
        const fa = w.a[t];
        const fb = w.b[t];
        if (s !== 0 && fa && fb) k = tf.add(k, tf.mul(expertDelta(fa, fb), sign * s));
      }
      return [k, tf.clone(layer.getWeights()[1] as tf.Tensor)];
    });
    layer.setWeights(next);
    tf.dispose(next);
  }
  const head = folded.getLayer('head');
  const hw = [tf.clone(student.variable(`head.${rb.name}.kernel`)), tf.clone(student.variable(`head.${rb.name}.bias`))];
  head.setWeights(hw);
  tf.dispose(hw);
}
