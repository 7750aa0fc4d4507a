import type { ModelConfig } from './config.js';

/** One step of a network graph. `input`/`inputs` index earlier nodes; node 0 is the image. */
export type ArchNode =
  | { op: 'input'; shape: number[] }
  | {
      op: 'conv';
      name: string;
      input: number;
      inChannels: number;
      filters: number;
      kernel: number;
      stride: number;
      shape: number[];
    }
  | { op: 'gn'; name: string; input: number; groups: number; shape: number[] }
  | { op: 'relu'; input: number; shape: number[] }
  | { op: 'add'; inputs: [number, number]; shape: number[] }
  | { op: 'maxpool'; input: number; shape: number[] }
  | { op: 'upsample'; input: number; shape: number[] }
  | { op: 'concat'; inputs: [number, number]; shape: number[] }
  | { op: 'gap'; input: number; shape: number[] };

export type ConvNode = Extract<ArchNode, { op: 'conv' }>;

/** The whole graph: nodes in execution order (the last one gives the features) and the head kind. */
export interface Architecture {
  readonly nodes: readonly ArchNode[];
  /** `dense` on pooled features (classification) or a 1x1 `conv` per pixel (segmentation). */
  readonly head: 'dense' | 'conv';
  /** Channels of the features the heads read. */
  readonly featureChannels: number;
}

/** Largest divisor of `channels` that is <= `groups`. */
export function groupsFor(channels: number, groups: number): number {
  for (let g = Math.min(groups, channels); g > 1; g--) if (channels % g === 0) return g;
  return 1;
}

class Builder {
  readonly nodes: ArchNode[];
  constructor(
    inputShape: number[],
    private readonly groups: number,
  ) {
    this.nodes = [{ op: 'input', shape: inputShape }];
  }
  private push(node: ArchNode): number {
    this.nodes.push(node);
    return this.nodes.length - 1;
  }
  shape(i: number): number[] {
    const n = this.nodes[i];
    if (!n) throw new Error(`no node ${i}`);
    return n.shape;
  }
  conv(name: string, input: number, filters: number, kernel: number, stride: number): number {
    const [h = 0, w = 0, c = 0] = this.shape(input);
    const shape = [Math.ceil(h / stride), Math.ceil(w / stride), filters];
    return this.push({ op: 'conv', name, input, inChannels: c, filters, kernel, stride, shape });
  }
  gn(name: string, input: number): number {
    const shape = this.shape(input);
    return this.push({ op: 'gn', name, input, groups: groupsFor(shape[2] ?? 1, this.groups), shape });
  }
  relu(input: number): number {
    return this.push({ op: 'relu', input, shape: this.shape(input) });
  }
  add(a: number, b: number): number {
    return this.push({ op: 'add', inputs: [a, b], shape: this.shape(a) });
  }
  maxpool(input: number): number {
    const [h = 0, w = 0, c = 0] = this.shape(input);
    return this.push({ op: 'maxpool', input, shape: [Math.floor(h / 2), Math.floor(w / 2), c] });
  }
  upsample(input: number): number {
    const [h = 0, w = 0, c = 0] = this.shape(input);
    return this.push({ op: 'upsample', input, shape: [h * 2, w * 2, c] });
  }
  concat(a: number, b: number): number {
    const [h = 0, w = 0, ca = 0] = this.shape(a);
    return this.push({ op: 'concat', inputs: [a, b], shape: [h, w, ca + (this.shape(b)[2] ?? 0)] });
  }
  gap(input: number): number {
    return this.push({ op: 'gap', input, shape: [2 * (this.shape(input)[2] ?? 0)] });
  }
  convGnRelu(name: string, input: number, filters: number, stride = 1): number {
    return this.relu(this.gn(`${name}.gn`, this.conv(`${name}.conv`, input, filters, 3, stride)));
  }
}

/**
 * ResNet-style classifier: stem conv, then `depth` residual blocks (two 3x3 convs + GroupNorm; a 1x1
 * projection when the shape changes). Block i has width·2^floor(i/2) channels; every block after
 * the first halves the resolution (while it is >= 8 pixels), so the receptive field covers the image
 * after a few blocks. The heads read global average and global max pooling, concatenated: the mean
 * alone confounds a lesion's contrast with its area (max pooling reads the contrast directly).
 */
function resnet(config: ModelConfig): Architecture {
  const b = new Builder([...config.inputShape], config.groupNormGroups);
  let x = b.convGnRelu('stem', 0, config.width);
  for (let i = 0; i < config.depth; i++) {
    const channels = config.width * 2 ** Math.floor(i / 2);
    const [h = 0, , c = 0] = b.shape(x);
    const stride = i > 0 && h >= 8 ? 2 : 1;
    const name = `block${i + 1}`;
    const y1 = b.relu(b.gn(`${name}.gn1`, b.conv(`${name}.conv1`, x, channels, 3, stride)));
    const y2 = b.gn(`${name}.gn2`, b.conv(`${name}.conv2`, y1, channels, 3, 1));
    const shortcut = stride !== 1 || c !== channels ? b.conv(`${name}.proj`, x, channels, 1, stride) : x;
    x = b.relu(b.add(y2, shortcut));
  }
  const f = b.gap(x);
  return { nodes: b.nodes, head: 'dense', featureChannels: b.shape(f)[0] ?? 0 };
}

/**
 * 2D U-Net segmenter: `depth` encoder stages (max-pool between them) of two 3x3 conv+GN+ReLU with
 * width·2^e channels, a mirrored decoder (nearest upsampling, skip concatenation, two convs), and
 * per-region 1x1 conv heads on the last decoder features.
 */
function unet(config: ModelConfig): Architecture {
  const b = new Builder([...config.inputShape], config.groupNormGroups);
  const skips: number[] = [];
  let x = 0;
  for (let e = 0; e < config.depth; e++) {
    if (e > 0) x = b.maxpool(x);
    const ch = config.width * 2 ** e;
    x = b.convGnRelu(`enc${e + 1}.b`, b.convGnRelu(`enc${e + 1}.a`, x, ch), ch);
    skips.push(x);
  }
  for (let e = config.depth - 2; e >= 0; e--) {
    const ch = config.width * 2 ** e;
    x = b.concat(skips[e] ?? 0, b.upsample(x));
    x = b.convGnRelu(`dec${e + 1}.b`, b.convGnRelu(`dec${e + 1}.a`, x, ch), ch);
  }
  return { nodes: b.nodes, head: 'conv', featureChannels: b.shape(x)[2] ?? 0 };
}

export function buildArchitecture(config: ModelConfig): Architecture {
  return config.family === 'resnet' ? resnet(config) : unet(config);
}
