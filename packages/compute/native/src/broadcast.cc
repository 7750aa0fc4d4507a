// Broadcasting binary float32 ops (add, mul, sub, div) on the caller's memory. The TS side collapses the shapes
// to at most 6 dims and passes element strides (0 along broadcast dims); rows of the last dim are split across
// OpenMP threads for large outputs.
#include <omp.h>

#include "common.h"

namespace lorkd {

namespace {

enum BOp { kBAdd = 0, kBMul = 1, kBSub = 2, kBDiv = 3 };

template <int OP>
inline float apply(float x, float y) {
  if (OP == kBAdd) return x + y;
  if (OP == kBMul) return x * y;
  if (OP == kBSub) return x - y;
  return x / y;
}

template <int OP>
__attribute__((target_clones("avx2", "default"))) void row(const float* a, int64_t sa, const float* b, int64_t sb,
                                                            float* o, int64_t n) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = apply<OP>(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const float y = b[0];
    for (int64_t i = 0; i < n; ++i) o[i] = apply<OP>(a[i], y);
  } else if (sa == 0 && sb == 1) {
    const float x = a[0];
    for (int64_t i = 0; i < n; ++i) o[i] = apply<OP>(x, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = apply<OP>(a[i * sa], b[i * sb]);
  }
}

template <int OP>
void run_rows(const float* a, const float* b, float* o, const int64_t* shape, const int64_t* as, const int64_t* bs,
              int rank, int64_t r0, int64_t r1) {
  const int64_t inner = shape[rank - 1];
  for (int64_t r = r0; r < r1; ++r) {
    // Offsets of row r (a multi-index over the first rank-1 dims).
    int64_t rem = r, ao = 0, bo = 0;
    for (int d = rank - 2; d >= 0; --d) {
      const int64_t idx = rem % shape[d];
      rem /= shape[d];
      ao += idx * as[d];
      bo += idx * bs[d];
    }
    row<OP>(a + ao, as[rank - 1], b + bo, bs[rank - 1], o + r * inner, inner);
  }
}

}  // namespace

// binaryBroadcast(heap, op, a, b, out, dims: Int32Array [rank, shape x6, aStrides x6, bStrides x6])
napi_value BinaryBroadcast(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 6;
    napi_value argv[6];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < 6) throw ArgError("binaryBroadcast(heap, op, a, b, out, dims) needs 6 arguments");
    size_t heap_len = 0;
    uint8_t* base = heap_base(env, argv[0], &heap_len);
    const int op = static_cast<int>(get_i64(env, argv[1], "op"));
    if (op < kBAdd || op > kBDiv) throw ArgError("binaryBroadcast op must be 0 add, 1 mul, 2 sub or 3 div");
    const int32_t* dims = get_i32_array(env, argv[5], 19, "dims");
    const int rank = dims[0];
    if (rank < 1 || rank > 6) throw ArgError("binaryBroadcast rank must be 1..6");
    int64_t shape[6], as[6], bs[6];
    int64_t total = 1, a_extent = 1, b_extent = 1;
    for (int d = 0; d < rank; ++d) {
      shape[d] = dims[1 + d];
      as[d] = dims[7 + d];
      bs[d] = dims[13 + d];
      if (shape[d] < 1 || as[d] < 0 || bs[d] < 0) throw ArgError("binaryBroadcast: bad shape or strides");
      total *= shape[d];
      a_extent += (shape[d] - 1) * as[d];
      b_extent += (shape[d] - 1) * bs[d];
    }
    const float* a = heap_f32(base, heap_len, get_i64(env, argv[2], "a"), a_extent, "a");
    const float* b = heap_f32(base, heap_len, get_i64(env, argv[3], "b"), b_extent, "b");
    float* o = heap_f32(base, heap_len, get_i64(env, argv[4], "out"), total, "output");
    const int64_t rows = total / shape[rank - 1];
    const int nt = total >= (1 << 17) && rows > 1 ? max_threads() : 1;
    auto run = [&](int64_t r0, int64_t r1) {
      switch (op) {
        case kBAdd:
          run_rows<kBAdd>(a, b, o, shape, as, bs, rank, r0, r1);
          break;
        case kBMul:
          run_rows<kBMul>(a, b, o, shape, as, bs, rank, r0, r1);
          break;
        case kBSub:
          run_rows<kBSub>(a, b, o, shape, as, bs, rank, r0, r1);
          break;
        default:
          run_rows<kBDiv>(a, b, o, shape, as, bs, rank, r0, r1);
          break;
      }
    };
    if (nt == 1) {
      run(0, rows);
      return nullptr;
    }
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num(), nth = omp_get_num_threads();
      run(rows * t / nth, rows * (t + 1) / nth);
    }
    return nullptr;
  });
}

}  // namespace lorkd
