// Sum / mean over any set of axes of a float32 tensor on the caller's memory. The TS side collapses the shape to
// at most 6 dims and passes the output stride of each (0 for reduced dims). The input is read once in order;
// each thread accumulates a private copy of the (small) output, and the copies are added at the end.
#include <omp.h>

#include <vector>

#include "common.h"

namespace lorkd {

namespace {

__attribute__((target_clones("avx2", "default"))) void acc_row(float* o, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) o[i] += x[i];
}

__attribute__((target_clones("avx2", "default"))) float sum_row(const float* x, int64_t n) {
  float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) lanes[l] += x[i + l];
  float s = 0.f;
  for (int l = 0; l < 8; ++l) s += lanes[l];
  for (; i < n; ++i) s += x[i];
  return s;
}

// Rows [r0, r1) of the input (rows = all dims but the last), accumulated into out.
void reduce_rows(const float* x, float* out, const int64_t* shape, const int64_t* os, int rank, int64_t r0,
                 int64_t r1) {
  const int64_t inner = shape[rank - 1];
  const bool inner_reduced = os[rank - 1] == 0;
  int64_t idx[6] = {0, 0, 0, 0, 0, 0};
  int64_t rem = r0, off = 0;
  for (int d = rank - 2; d >= 0; --d) {
    idx[d] = rem % shape[d];
    rem /= shape[d];
    off += idx[d] * os[d];
  }
  for (int64_t r = r0; r < r1; ++r) {
    const float* row = x + r * inner;
    if (inner_reduced) {
      out[off] += sum_row(row, inner);
    } else {
      acc_row(out + off, row, inner);
    }
    for (int d = rank - 2; d >= 0; --d) {  // odometer step
      off += os[d];
      if (++idx[d] < shape[d]) break;
      off -= os[d] * shape[d];
      idx[d] = 0;
    }
  }
}

}  // namespace

// reduceSum(heap, x, out, dims: Int32Array [rank, shape x6, outStrides x6], outSize, scale)
napi_value ReduceSum(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 6;
    napi_value argv[6];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < 6) throw ArgError("reduceSum(heap, x, out, dims, outSize, scale) needs 6 arguments");
    size_t heap_len = 0;
    uint8_t* base = heap_base(env, argv[0], &heap_len);
    const int32_t* dims = get_i32_array(env, argv[3], 13, "dims");
    const int rank = dims[0];
    if (rank < 1 || rank > 6) throw ArgError("reduceSum rank must be 1..6");
    int64_t shape[6], os[6], total = 1, extent = 1;
    for (int d = 0; d < rank; ++d) {
      shape[d] = dims[1 + d];
      os[d] = dims[7 + d];
      if (shape[d] < 1 || os[d] < 0) throw ArgError("reduceSum: bad shape or strides");
      total *= shape[d];
      extent += (shape[d] - 1) * os[d];
    }
    const int64_t out_size = get_i64(env, argv[4], "outSize");
    if (out_size < extent) throw ArgError("reduceSum: outSize smaller than the strides reach");
    const float scale = static_cast<float>(get_f64(env, argv[5], "scale"));
    const float* x = heap_f32(base, heap_len, get_i64(env, argv[1], "x"), total, "x");
    float* out = heap_f32(base, heap_len, get_i64(env, argv[2], "out"), out_size, "output");
    const int64_t rows = total / shape[rank - 1];
    int nt = total >= (1 << 17) && rows > 1 && out_size <= (1 << 20) ? max_threads() : 1;
    std::vector<float> partial(static_cast<size_t>(nt) * out_size, 0.f);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
      const int t = omp_get_thread_num(), nth = omp_get_num_threads();
      reduce_rows(x, partial.data() + static_cast<size_t>(t) * out_size, shape, os, rank, rows * t / nth,
                  rows * (t + 1) / nth);
    }
    for (int64_t j = 0; j < out_size; ++j) {
      float s = 0.f;
      for (int t = 0; t < nt; ++t) s += partial[static_cast<size_t>(t) * out_size + j];
      out[j] = s * scale;
    }
    return nullptr;
  });
}

}  // namespace lorkd
