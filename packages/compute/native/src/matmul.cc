// Batched matrix multiply C[b] = op(A[b]) · op(B[b]) (+ bias, + activation) on row-major float32 tensors in
// the caller's memory, through oneDNN's matmul primitive (transposes expressed as strides; batch 1 broadcasts).
#include <memory>
#include <unordered_map>

#include "common.h"

namespace lorkd {

using dnnl::memory;
using dt = memory::data_type;

namespace {

struct MatMulEntry {
  dnnl::matmul prim;
  memory a, b, bias, c;
};

thread_local std::unordered_map<std::string, std::unique_ptr<MatMulEntry>> cache;
constexpr size_t kMaxCache = 512;

}  // namespace

size_t matmul_cache_size() { return cache.size(); }

// matMul(heap, geom = [B, M, K, N, transA, transB, batchA, batchB], a, b, bias (or -1), out, act, alpha)
napi_value MatMul(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 9;
    napi_value argv[9];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < 9) throw ArgError("matMul(heap, geom, a, b, bias, out, act, alpha) needs 9 arguments");
    size_t heap_len = 0;
    uint8_t* base = heap_base(env, argv[0], &heap_len);
    const int32_t* g = get_i32_array(env, argv[1], 8, "geom");
    const memory::dim B = g[0], M = g[1], K = g[2], N = g[3], ba = g[6], bb = g[7];
    const bool ta = g[4] != 0, tb = g[5] != 0;
    if (B < 1 || M < 1 || K < 1 || N < 1) throw ArgError("matMul dims must be >= 1");
    if ((ba != 1 && ba != B) || (bb != 1 && bb != B)) throw ArgError("matMul batch of A and B must be 1 or B");
    int64_t a_off = get_i64(env, argv[2], "a");
    int64_t b_off = get_i64(env, argv[3], "b");
    int64_t bias_off = get_i64(env, argv[4], "bias");
    int64_t out_off = get_i64(env, argv[5], "out");
    int act = static_cast<int>(get_i64(env, argv[6], "act"));
    float alpha = static_cast<float>(get_f64(env, argv[7], "alpha"));
    // argv[8] is reserved (kept so the call shape matches conv2d).
    const bool has_bias = bias_off >= 0;

    const int nthr = threads_for(2.0 * B * M * N * K);
    ThreadScope threads(nthr);
    std::string key = std::to_string(nthr) + "t";
    for (int i = 0; i < 8; ++i) key += std::to_string(g[i]) + ",";
    key += (has_bias ? "b" : "n") + std::to_string(act) + ":" + std::to_string(alpha);
    auto it = cache.find(key);
    MatMulEntry* e;
    if (it != cache.end()) {
      e = it->second.get();
    } else {
      auto& eng = cpu_engine();
      memory::desc a_md({ba, M, K}, dt::f32, ta ? memory::dims{M * K, 1, M} : memory::dims{M * K, K, 1});
      memory::desc b_md({bb, K, N}, dt::f32, tb ? memory::dims{K * N, 1, K} : memory::dims{K * N, N, 1});
      memory::desc c_md({B, M, N}, dt::f32, memory::dims{M * N, N, 1});
      memory::desc bias_md({1, 1, N}, dt::f32, memory::dims{N, N, 1});
      dnnl::primitive_attr attr;
      if (act != 0) {
        dnnl::post_ops ops;
        append_activation(ops, act, alpha);
        attr.set_post_ops(ops);
      }
      auto desc = has_bias ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md) : dnnl::matmul::desc(a_md, b_md, c_md);
      dnnl::matmul::primitive_desc pd(desc, attr, eng);
      auto ne = std::make_unique<MatMulEntry>();
      ne->prim = dnnl::matmul(pd);
      ne->a = memory(a_md, eng, DNNL_MEMORY_NONE);
      ne->b = memory(b_md, eng, DNNL_MEMORY_NONE);
      ne->c = memory(c_md, eng, DNNL_MEMORY_NONE);
      if (has_bias) ne->bias = memory(bias_md, eng, DNNL_MEMORY_NONE);
      if (cache.size() >= kMaxCache) cache.clear();
      e = ne.get();
      cache[key] = std::move(ne);
    }
    e->a.set_data_handle(heap_f32(base, heap_len, a_off, ba * M * K, "a"));
    e->b.set_data_handle(heap_f32(base, heap_len, b_off, bb * K * N, "b"));
    e->c.set_data_handle(heap_f32(base, heap_len, out_off, B * M * N, "output"));
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c}};
    if (has_bias) {
      e->bias.set_data_handle(heap_f32(base, heap_len, bias_off, N, "bias"));
      args[DNNL_ARG_BIAS] = e->bias;
    }
    auto& s = cpu_stream();
    e->prim.execute(s, args);
    s.wait();
    return nullptr;
  });
}

}  // namespace lorkd
