// Elementwise float32 kernels on the caller's memory: add, multiply (same shapes), relu, step. Split across
// OpenMP threads for large tensors; the inner loops are compiled for AVX2 and plain x86-64 (picked at load).
#include <omp.h>

#include "common.h"

namespace lorkd {

namespace {

enum Op { kAdd = 0, kMul = 1, kRelu = 2, kStep = 3 };

__attribute__((target_clones("avx2", "default"))) void add_range(const float* a, const float* b, float* o, int64_t n) {
  for (int64_t i = 0; i < n; ++i) o[i] = a[i] + b[i];
}

__attribute__((target_clones("avx2", "default"))) void mul_range(const float* a, const float* b, float* o, int64_t n) {
  for (int64_t i = 0; i < n; ++i) o[i] = a[i] * b[i];
}

// tfjs relu: max(0, x) with -0 -> +0 and NaN staying NaN.
__attribute__((target_clones("avx2", "default"))) void relu_range(const float* a, float* o, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = a[i];
    o[i] = v > 0.f ? v : (v != v ? v : 0.f);
  }
}

// tfjs step: x > 0 ? 1 : alpha, NaN stays NaN.
__attribute__((target_clones("avx2", "default"))) void step_range(const float* a, float* o, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = a[i];
    o[i] = v > 0.f ? 1.f : (v != v ? v : alpha);
  }
}

void run_range(int op, const float* a, const float* b, float* o, int64_t n, float alpha) {
  switch (op) {
    case kAdd:
      add_range(a, b, o, n);
      break;
    case kMul:
      mul_range(a, b, o, n);
      break;
    case kRelu:
      relu_range(a, o, n);
      break;
    default:
      step_range(a, o, n, alpha);
      break;
  }
}

}  // namespace

// elementwise(heap, op, a, b (or -1), out, n, alpha)
napi_value Elementwise(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 7;
    napi_value argv[7];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < 7) throw ArgError("elementwise(heap, op, a, b, out, n, alpha) needs 7 arguments");
    size_t heap_len = 0;
    uint8_t* base = heap_base(env, argv[0], &heap_len);
    const int op = static_cast<int>(get_i64(env, argv[1], "op"));
    if (op < kAdd || op > kStep) throw ArgError("elementwise op must be 0 (add), 1 (mul), 2 (relu) or 3 (step)");
    const int64_t n = get_i64(env, argv[5], "n");
    if (n < 0) throw ArgError("elementwise n must be >= 0");
    const float* a = heap_f32(base, heap_len, get_i64(env, argv[2], "a"), n, "a");
    const float* b = op <= kMul ? heap_f32(base, heap_len, get_i64(env, argv[3], "b"), n, "b") : nullptr;
    float* o = heap_f32(base, heap_len, get_i64(env, argv[4], "out"), n, "output");
    const float alpha = static_cast<float>(get_f64(env, argv[6], "alpha"));
    const int nt = n >= (1 << 17) ? max_threads() : 1;
    if (nt == 1) {
      run_range(op, a, b, o, n, alpha);
      return nullptr;
    }
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num(), nth = omp_get_num_threads();
      // Chunks aligned to 16 floats so threads never share a cache line.
      const int64_t per = ((n + nth - 1) / nth + 15) / 16 * 16;
      const int64_t lo = per * t < n ? per * t : n, hi = per * (t + 1) < n ? per * (t + 1) : n;
      if (hi > lo) run_range(op, a + lo, b ? b + lo : nullptr, o + lo, hi - lo, alpha);
    }
    return nullptr;
  });
}

}  // namespace lorkd
