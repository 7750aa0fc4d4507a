// Sum reductions of a row-major [outer, inner] float32 matrix in the caller's memory: over the rows (bias
// gradients: NHWC summed over N, H, W) or over the columns. Parallel with OpenMP, float accumulation in blocks.
#include <omp.h>

#include <vector>

#include "common.h"

namespace lorkd {

size_t conv_cache_size();
size_t matmul_cache_size();

namespace {

__attribute__((target_clones("avx2", "default"))) void add_into(float* acc, const float* row, int64_t n) {
  for (int64_t j = 0; j < n; ++j) acc[j] += row[j];
}

// out[j] = sum_i x[i * inner + j]
void sum_over_rows(const float* x, int64_t outer, int64_t inner, float* out) {
  int nt = omp_get_max_threads();
  if (outer * inner < (1 << 15)) nt = 1;
  std::vector<float> partial(static_cast<size_t>(nt) * inner, 0.f);
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    const int nth = omp_get_num_threads();
    const int64_t lo = outer * t / nth, hi = outer * (t + 1) / nth;
    float* acc = partial.data() + static_cast<size_t>(t) * inner;
    // Accumulate blocks of 64 rows into a local block sum first, to keep float error small.
    std::vector<float> block(inner);
    for (int64_t r0 = lo; r0 < hi; r0 += 64) {
      const int64_t r1 = r0 + 64 < hi ? r0 + 64 : hi;
      for (int64_t j = 0; j < inner; ++j) block[j] = 0.f;
      for (int64_t r = r0; r < r1; ++r) add_into(block.data(), x + r * inner, inner);
      add_into(acc, block.data(), inner);
    }
  }
  for (int64_t j = 0; j < inner; ++j) {
    float s = 0.f;
    for (int t = 0; t < nt; ++t) s += partial[static_cast<size_t>(t) * inner + j];
    out[j] = s;
  }
}

// out[i] = sum_j x[i * inner + j]
void sum_over_cols(const float* x, int64_t outer, int64_t inner, float* out) {
  const bool par = outer * inner >= (1 << 15);
#pragma omp parallel for if (par) schedule(static)
  for (int64_t i = 0; i < outer; ++i) {
    const float* row = x + i * inner;
    float lanes[16] = {0};
    int64_t j = 0;
    for (; j + 16 <= inner; j += 16)
      for (int l = 0; l < 16; ++l) lanes[l] += row[j + l];
    float s = 0.f;
    for (int l = 0; l < 16; ++l) s += lanes[l];
    for (; j < inner; ++j) s += row[j];
    out[i] = s;
  }
}

}  // namespace

// sumRows(heap, x, outer, inner, out, overRows)
napi_value SumRows(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 6;
    napi_value argv[6];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < 6) throw ArgError("sumRows(heap, x, outer, inner, out, overRows) needs 6 arguments");
    size_t heap_len = 0;
    uint8_t* base = heap_base(env, argv[0], &heap_len);
    int64_t x_off = get_i64(env, argv[1], "x");
    int64_t outer = get_i64(env, argv[2], "outer");
    int64_t inner = get_i64(env, argv[3], "inner");
    int64_t out_off = get_i64(env, argv[4], "out");
    bool over_rows = false;
    napi_get_value_bool(env, argv[5], &over_rows);
    if (outer < 1 || inner < 1) throw ArgError("sumRows: outer and inner must be >= 1");
    const float* x = heap_f32(base, heap_len, x_off, outer * inner, "x");
    float* out = heap_f32(base, heap_len, out_off, over_rows ? inner : outer, "output");
    if (over_rows) {
      sum_over_rows(x, outer, inner, out);
    } else {
      sum_over_cols(x, outer, inner, out);
    }
    return nullptr;
  });
}

napi_value CacheSize(napi_env env, napi_callback_info) {
  napi_value out;
  napi_create_uint32(env, static_cast<uint32_t>(conv_cache_size() + matmul_cache_size()), &out);
  return out;
}

}  // namespace lorkd
