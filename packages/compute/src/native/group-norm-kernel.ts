import type {
  GradConfig,
  KernelConfig,
  KernelFunc,
  NamedTensorInfoMap,
  Tensor,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { engine, getGradient, registerGradient, util } from '@tensorflow/tfjs-core';
import { KernelInputError } from '../errors.js';
import type { NativeAddon } from './addon-types.js';
import { heapBytes, heapOffset, isWasmHeapBackend } from './wasm-heap.js';

/**
 * The fused GroupNorm kernel's name. `@lorkd/model`'s `groupNorm` runs it (through `runKernel`) when the active
 * backend has it registered, and its own pure-tfjs ops otherwise; keep the two names and attrs in step.
 * Inputs `x` [N,H,W,C] (NHWC float32), `gamma` and `beta` [C]; attrs {@link GroupNormAttrs}.
 * Outputs `[y, mean, rstd]`: y like x (relu'd when `relu`), mean and rstd = 1/sqrt(var + epsilon) [N, groups].
 */
export const GROUP_NORM_KERNEL = 'LorkdGroupNorm';
/** Its gradient kernel: inputs x, y, dy, gamma, mean, rstd; outputs `[dx, dgamma, dbeta]`. */
export const GROUP_NORM_GRAD_KERNEL = 'LorkdGroupNormGrad';

export interface GroupNormAttrs {
  /** Channel groups; must divide C. */
  groups: number;
  epsilon: number;
  /** Apply ReLU to the output (its gradient masks dy where y <= 0). Default false. */
  relu?: boolean;
}

function readAttrs(kernel: string, x: TensorInfo, attrs: Partial<GroupNormAttrs> | undefined) {
  if (x.shape.length !== 4) {
    throw new KernelInputError(kernel, `x must be 4-D NHWC, got shape [${x.shape.join(', ')}]`, { shape: x.shape });
  }
  const [n = 0, h = 0, w = 0, c = 0] = x.shape;
  const groups = attrs?.groups ?? 0;
  const epsilon = attrs?.epsilon ?? Number.NaN;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) {
    throw new KernelInputError(kernel, `groups must be a positive integer dividing C = ${c}, got ${groups}`, {
      groups,
      channels: c,
    });
  }
  if (!(epsilon >= 0)) throw new KernelInputError(kernel, `epsilon must be >= 0, got ${epsilon}`, { epsilon });
  if (h * w === 0) throw new KernelInputError(kernel, `H*W must be > 0, got shape [${x.shape.join(', ')}]`);
  return { n, c, dims: Int32Array.from([n, h * w, c, groups, attrs?.relu === true ? 1 : 0]), groups, epsilon };
}

function checkFloat(kernel: string, named: Record<string, TensorInfo | undefined>): Record<string, TensorInfo> {
  for (const [name, t] of Object.entries(named)) {
    if (t === undefined) throw new KernelInputError(kernel, `input '${name}' is missing`);
    if (t.dtype !== 'float32') {
      throw new KernelInputError(kernel, `input '${name}' must be float32, got ${t.dtype}`, { input: name });
    }
  }
  return named as Record<string, TensorInfo>;
}

function checkChannels(kernel: string, c: number, named: Record<string, TensorInfo>): void {
  for (const [name, t] of Object.entries(named)) {
    if (util.sizeFromShape(t.shape) !== c) {
      throw new KernelInputError(kernel, `${name} must have C = ${c} values, got shape [${t.shape.join(', ')}]`, {
        input: name,
      });
    }
  }
}

function makeForward(addon: NativeAddon): KernelFunc {
  return (args) => {
    const { backend } = args;
    const k = GROUP_NORM_KERNEL;
    if (!isWasmHeapBackend(backend)) throw new KernelInputError(k, 'runs on the wasm backend with native kernels only');
    const inputs = args.inputs as NamedTensorInfoMap;
    const { x, gamma, beta } = checkFloat(k, { x: inputs.x, gamma: inputs.gamma, beta: inputs.beta });
    const { n, c, dims, groups, epsilon } = readAttrs(k, x as TensorInfo, args.attrs as Partial<GroupNormAttrs>);
    checkChannels(k, c, { gamma: gamma as TensorInfo, beta: beta as TensorInfo });
    const y = backend.makeOutput([...(x as TensorInfo).shape], 'float32');
    const mean = backend.makeOutput([n, groups], 'float32');
    const rstd = backend.makeOutput([n, groups], 'float32');
    if (n === 0) return [y, mean, rstd];
    addon.groupNorm(
      heapBytes(backend),
      dims,
      heapOffset(backend, x as TensorInfo),
      heapOffset(backend, gamma as TensorInfo),
      heapOffset(backend, beta as TensorInfo),
      heapOffset(backend, y),
      heapOffset(backend, mean),
      heapOffset(backend, rstd),
      epsilon,
    );
    return [y, mean, rstd];
  };
}

function makeBackward(addon: NativeAddon): KernelFunc {
  return (args) => {
    const { backend } = args;
    const k = GROUP_NORM_GRAD_KERNEL;
    if (!isWasmHeapBackend(backend)) throw new KernelInputError(k, 'runs on the wasm backend with native kernels only');
    const i = args.inputs as NamedTensorInfoMap;
    const t = checkFloat(k, { x: i.x, y: i.y, dy: i.dy, gamma: i.gamma, mean: i.mean, rstd: i.rstd });
    const x = t.x as TensorInfo;
    const { n, c, dims, groups } = readAttrs(k, x, args.attrs as Partial<GroupNormAttrs>);
    checkChannels(k, c, { gamma: t.gamma as TensorInfo });
    if (!util.arraysEqual(t.dy?.shape ?? [], x.shape)) {
      throw new KernelInputError(k, `dy must have x's shape [${x.shape.join(', ')}]`, { dyShape: t.dy?.shape });
    }
    if (
      util.sizeFromShape(t.mean?.shape ?? []) !== n * groups ||
      util.sizeFromShape(t.rstd?.shape ?? []) !== n * groups
    ) {
      throw new KernelInputError(k, `mean and rstd must have N*groups = ${n * groups} values`);
    }
    const dx = backend.makeOutput([...x.shape], 'float32');
    const dgamma = backend.makeOutput([...(t.gamma as TensorInfo).shape], 'float32');
    const dbeta = backend.makeOutput([...(t.gamma as TensorInfo).shape], 'float32');
    const heap = heapBytes(backend);
    if (n === 0) {
      heap.fill(0, heapOffset(backend, dgamma), heapOffset(backend, dgamma) + 4 * c);
      heap.fill(0, heapOffset(backend, dbeta), heapOffset(backend, dbeta) + 4 * c);
      return [dx, dgamma, dbeta];
    }
    addon.groupNormGrad(
      heap,
      dims,
      heapOffset(backend, x),
      dims[4] === 1 ? heapOffset(backend, t.y as TensorInfo) : -1,
      heapOffset(backend, t.dy as TensorInfo),
      heapOffset(backend, t.gamma as TensorInfo),
      heapOffset(backend, t.mean as TensorInfo),
      heapOffset(backend, t.rstd as TensorInfo),
      heapOffset(backend, dx),
      heapOffset(backend, dgamma),
      heapOffset(backend, dbeta),
    );
    return [dx, dgamma, dbeta];
  };
}

/**
 * The gradient of {@link GROUP_NORM_KERNEL}: one fused backward kernel computes dx, dgamma and dbeta together
 * (eagerly, so the per-input gradient closures only hand them out; unused ones are freed with the backward scope).
 */
const groupNormGradConfig: GradConfig = {
  kernelName: GROUP_NORM_KERNEL,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [true, true, true],
  gradFunc: (dys, saved, attrs) => {
    const dy = (Array.isArray(dys) ? dys[0] : dys) as Tensor;
    const [x, gamma, y, mean, rstd] = saved as Tensor[];
    const [dx, dgamma, dbeta] = engine().runKernel(
      GROUP_NORM_GRAD_KERNEL,
      { x: x as Tensor, y: y as Tensor, dy, gamma: gamma as Tensor, mean: mean as Tensor, rstd: rstd as Tensor },
      attrs,
    ) as Tensor[];
    return { x: () => dx as Tensor, gamma: () => dgamma as Tensor, beta: () => dbeta as Tensor };
  },
};

/** The kernel configs of the fused GroupNorm on `backendName`, and (once per process) its gradient. */
export function groupNormKernelConfigs(addon: NativeAddon, backendName: string): KernelConfig[] {
  // An addon built before these kernels existed: keep GroupNorm on tfjs ops (rebuild to get them).
  if (typeof addon.groupNorm !== 'function' || typeof addon.groupNormGrad !== 'function') return [];
  if (getGradient(GROUP_NORM_KERNEL) === undefined) registerGradient(groupNormGradConfig);
  return [
    { kernelName: GROUP_NORM_KERNEL, backendName, kernelFunc: makeForward(addon) },
    { kernelName: GROUP_NORM_GRAD_KERNEL, backendName, kernelFunc: makeBackward(addon) },
  ];
}
