import type { Logger } from '@lorkd/contracts';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon-types.js';
import { makeConv2D, makeConv2DBackpropFilter, makeConv2DBackpropInput } from './conv-kernels.js';
import { makeBinary, makeCast, makeIdentity, makeUnary } from './elementwise-kernels.js';
import { groupNormKernelConfigs } from './group-norm-kernel.js';
import { makeMatMul } from './matmul-kernels.js';
import { makeSum } from './sum-kernel.js';

/** The kernels the addon takes over, each built from the kernel it replaces (its fallback). */
const NATIVE_KERNELS: Record<string, (addon: NativeAddon, fallback: KernelFunc) => KernelFunc> = {
  Conv2D: (addon, fb) => makeConv2D(addon, fb, false),
  FusedConv2D: (addon, fb) => makeConv2D(addon, fb, true),
  Conv2DBackpropInput: makeConv2DBackpropInput,
  Conv2DBackpropFilter: makeConv2DBackpropFilter,
  BatchMatMul: (addon, fb) => makeMatMul(addon, fb, false),
  _FusedMatMul: (addon, fb) => makeMatMul(addon, fb, true),
  Sum: (addon, fb) => makeSum(addon, fb),
  Mean: (addon, fb) => makeSum(addon, fb, true),
  Identity: (_addon, fb) => makeIdentity(fb),
  Cast: (_addon, fb) => makeCast(fb),
  Add: (addon, fb) => makeBinary(addon, fb, 'add'),
  Multiply: (addon, fb) => makeBinary(addon, fb, 'mul'),
  Sub: (addon, fb) => makeBinary(addon, fb, 'sub'),
  RealDiv: (addon, fb) => makeBinary(addon, fb, 'div'),
  Relu: (addon, fb) => makeUnary(addon, fb, 'relu'),
  Step: (addon, fb) => makeUnary(addon, fb, 'step'),
};

export const NATIVE_KERNEL_NAMES: readonly string[] = Object.keys(NATIVE_KERNELS);

const registeredFor = new Set<string>();

function missingKernel(name: string, backendName: string): KernelFunc {
  return () => {
    throw new Error(
      `kernel ${name} is not available on backend ${backendName} for this input (the native kernel declined it)`,
    );
  };
}

/**
 * Registers the native kernels on `backendName` (a tfjs-backend-wasm instance), replacing Conv2D and friends.
 * Each keeps the kernel it replaces (stock or a custom one registered earlier) as its fallback for inputs it
 * does not handle (NCHW, prelu, non-float). Registering twice for the same backend is a no-op.
 */
export function registerNativeWasmKernels(addon: NativeAddon, backendName: string, logger: Logger): void {
  if (backendName !== 'wasm') {
    throw new Error(`native kernels work on the wasm backend's heap; register them for 'wasm', not '${backendName}'`);
  }
  if (registeredFor.has(backendName)) return;
  for (const [name, make] of Object.entries(NATIVE_KERNELS)) {
    const previous = getKernel(name, backendName);
    const fallback = previous?.kernelFunc ?? missingKernel(name, backendName);
    if (previous !== undefined) unregisterKernel(name, backendName);
    const config: KernelConfig = { kernelName: name, backendName, kernelFunc: make(addon, fallback) };
    if (previous?.setupFunc !== undefined) config.setupFunc = previous.setupFunc;
    if (previous?.disposeFunc !== undefined) config.disposeFunc = previous.disposeFunc;
    registerKernel(config);
  }
  // Kernels of lorkd's own ops (no stock kernel to replace): the fused GroupNorm and its gradient.
  const own = groupNormKernelConfigs(addon, backendName);
  for (const config of own) {
    if (getKernel(config.kernelName, backendName) !== undefined) unregisterKernel(config.kernelName, backendName);
    registerKernel(config);
  }
  registeredFor.add(backendName);
  logger.info('native oneDNN kernels registered', {
    backend: backendName,
    kernels: [...NATIVE_KERNEL_NAMES, ...own.map((c) => c.kernelName)].join(','),
  });
}
