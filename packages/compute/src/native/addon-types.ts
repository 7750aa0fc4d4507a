/**
 * The functions the C++ addon (`packages/compute/native/src/*.cc`) exports. Every tensor argument is a byte
 * offset into `heap` (the wasm backend's `HEAPU8`): the addon reads and writes that memory in place.
 * Layouts are the tfjs ones: activations NHWC, filters HWIO, matrices row-major.
 * Activation codes (`act`): 0 none, 1 relu / leaky relu (`alpha` = negative slope), 2 relu6, 3 elu, 4 sigmoid.
 */
export interface NativeAddon {
  /** Build information: oneDNN version, OpenMP thread count. */
  version(): string;
  /** Sets the number of OpenMP threads the addon (and oneDNN) use in this process. */
  setNumThreads(n: number): void;
  /** Number of cached oneDNN primitives (conv + matmul) on the calling thread. */
  cacheSize(): number;
  /**
   * One 2-D convolution pass. `kind` 0 = forward (a = x, b = filter, c = bias offset or -1, out = y),
   * 1 = backward data (a = dy, b = filter, out = dx), 2 = backward weights (a = x, b = dy, out = dw).
   * `geom` = [N, H, W, Ci, Ho, Wo, Co, kh, kw, sh, sw, dh, dw, padTop, padLeft, padBottom, padRight].
   */
  conv2d(
    heap: Uint8Array,
    kind: number,
    geom: Int32Array,
    a: number,
    b: number,
    c: number,
    out: number,
    act: number,
    alpha: number,
  ): void;
  /**
   * out[B, M, N] = op(a)[B or 1, M, K] · op(b)[B or 1, K, N] (+ bias[N]) then activation.
   * `geom` = [B, M, K, N, transposeA, transposeB, batchA, batchB]; `bias` is an offset or -1. The last argument
   * is reserved (pass 0).
   */
  matMul(
    heap: Uint8Array,
    geom: Int32Array,
    a: number,
    b: number,
    bias: number,
    out: number,
    act: number,
    alpha: number,
    reserved: number,
  ): void;
  /**
   * Elementwise over `n` floats: op 0 out = a + b, 1 out = a * b, 2 out = relu(a), 3 out = step(a) (1 where a > 0,
   * else `alpha`; NaN stays NaN). `b` is ignored (pass -1) for relu and step.
   */
  elementwise(heap: Uint8Array, op: number, a: number, b: number, out: number, n: number, alpha: number): void;
  /**
   * out = a op b with broadcasting (op 0 add, 1 mul, 2 sub, 3 div). `dims` = [rank ≤ 6, out shape x6, a strides
   * x6, b strides x6], strides in elements, 0 along broadcast dims (see `broadcastPlan`).
   */
  binaryBroadcast(heap: Uint8Array, op: number, a: number, b: number, out: number, dims: Int32Array): void;
  /**
   * out = scale * (sum of x over the dims whose out stride is 0). `dims` = [rank ≤ 6, shape x6, out strides x6]
   * (see `reducePlan`); `outSize` = number of outputs.
   */
  reduceSum(heap: Uint8Array, x: number, out: number, dims: Int32Array, outSize: number, scale: number): void;
  /** Sums a row-major [outer, inner] matrix over its rows (out has `inner` values) or its columns (`outer`). */
  sumRows(heap: Uint8Array, x: number, outer: number, inner: number, out: number, overRows: boolean): void;
  /**
   * Fused GroupNorm forward over NHWC x: `dims` = [N, H*W, C, groups, relu (0/1)]; writes y (like x), and mean and
   * rstd = 1/sqrt(var + eps) ([N, groups]) for the backward pass.
   */
  groupNorm(
    heap: Uint8Array,
    dims: Int32Array,
    x: number,
    gamma: number,
    beta: number,
    y: number,
    mean: number,
    rstd: number,
    eps: number,
  ): void;
  /**
   * Fused GroupNorm backward: dx (like x), dgamma and dbeta ([C]) from x, dy and the forward's mean and rstd. With
   * relu = 1 in `dims`, `y` (the forward's relu'd output) masks dy; otherwise pass -1.
   */
  groupNormGrad(
    heap: Uint8Array,
    dims: Int32Array,
    x: number,
    y: number,
    dy: number,
    gamma: number,
    mean: number,
    rstd: number,
    dx: number,
    dgamma: number,
    dbeta: number,
  ): void;
}
