// 2-D convolution passes (forward with fused bias + activation, backward data, backward weights) on NHWC
// activations and HWIO filters that live in the caller's memory (the wasm heap). Primitives are cached per
// shape; filters are reordered to (and weight gradients from) oneDNN's preferred blocked layout.
#include <memory>
#include <unordered_map>

#include "common.h"

namespace lorkd {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

struct Geom {
  memory::dim N, H, W, Ci, Ho, Wo, Co, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
};

struct ConvEntry {
  dnnl::primitive prim;
  memory src, wei_or_ddst, bias, dst;  // the primitive's arguments (user handles set per call)
  memory user_w;                       // HWIO filter in user memory
  memory prim_w;                       // filter in the primitive's layout (== user_w when no reorder)
  bool reorder_w = false;
  dnnl::reorder w_reorder;
  bool has_bias = false;
};

// One cache per thread: worker threads each get their own (primitives and scratch weights are not shared).
thread_local std::unordered_map<std::string, std::unique_ptr<ConvEntry>> cache;

constexpr size_t kMaxCache = 512;

std::string cache_key(int kind, const Geom& g, bool bias, int act, float alpha, int nthr) {
  std::string k = std::to_string(nthr) + "t" + std::to_string(kind) + (bias ? "b" : "n") + std::to_string(act) + ":" + std::to_string(alpha);
  const memory::dim* p = &g.N;
  for (int i = 0; i < 17; ++i) k += "," + std::to_string(p[i]);
  return k;
}

ConvEntry* build(int kind, const Geom& g, bool has_bias, int act, float alpha, int nthr) {
  auto& eng = cpu_engine();
  memory::dims src_dims = {g.N, g.Ci, g.H, g.W};
  memory::dims dst_dims = {g.N, g.Co, g.Ho, g.Wo};
  memory::dims w_dims = {g.Co, g.Ci, g.kh, g.kw};
  memory::dims strides = {g.sh, g.sw};
  memory::dims dil = {g.dh - 1, g.dw - 1};
  memory::dims pad_l = {g.pt, g.pl};
  memory::dims pad_r = {g.pb, g.pr};
  memory::desc src_md(src_dims, dt::f32, tag::nhwc);
  memory::desc dst_md(dst_dims, dt::f32, tag::nhwc);
  memory::desc w_user_md(w_dims, dt::f32, tag::hwio);
  memory::desc w_any_md(w_dims, dt::f32, tag::any);
  memory::desc b_md({g.Co}, dt::f32, tag::a);

  auto e = std::make_unique<ConvEntry>();
  e->user_w = memory(w_user_md, eng, DNNL_MEMORY_NONE);
  e->has_bias = has_bias;

  auto fwd_prop = kind == 0 ? dnnl::prop_kind::forward_inference : dnnl::prop_kind::forward_training;
  auto fwd_desc = has_bias && kind == 0
                      ? dnnl::convolution_forward::desc(fwd_prop, dnnl::algorithm::convolution_direct, src_md,
                                                        w_any_md, b_md, dst_md, strides, dil, pad_l, pad_r)
                      : dnnl::convolution_forward::desc(fwd_prop, dnnl::algorithm::convolution_direct, src_md,
                                                        w_any_md, dst_md, strides, dil, pad_l, pad_r);
  dnnl::primitive_attr attr;
  if (kind == 0 && act != 0) {
    dnnl::post_ops ops;
    append_activation(ops, act, alpha);
    attr.set_post_ops(ops);
  }
  dnnl::convolution_forward::primitive_desc fwd_pd(fwd_desc, attr, eng);

  if (kind == 0) {
    e->prim = dnnl::convolution_forward(fwd_pd);
    e->src = memory(src_md, eng, DNNL_MEMORY_NONE);
    e->dst = memory(dst_md, eng, DNNL_MEMORY_NONE);
    if (has_bias) e->bias = memory(b_md, eng, DNNL_MEMORY_NONE);
    memory::desc w_prim_md = fwd_pd.weights_desc();
    if (w_prim_md != w_user_md) {
      e->reorder_w = true;
      e->prim_w = memory(w_prim_md, eng);
      e->w_reorder = dnnl::reorder(e->user_w, e->prim_w);
    } else {
      e->prim_w = e->user_w;
    }
  } else if (kind == 1) {
    dnnl::convolution_backward_data::desc bwd_desc(dnnl::algorithm::convolution_direct, src_md, w_any_md, dst_md,
                                                   strides, dil, pad_l, pad_r);
    dnnl::convolution_backward_data::primitive_desc pd(bwd_desc, eng, fwd_pd);
    e->prim = dnnl::convolution_backward_data(pd);
    e->src = memory(src_md, eng, DNNL_MEMORY_NONE);  // diff_src (output)
    e->dst = memory(dst_md, eng, DNNL_MEMORY_NONE);  // diff_dst (input)
    memory::desc w_prim_md = pd.weights_desc();
    if (w_prim_md != w_user_md) {
      e->reorder_w = true;
      e->prim_w = memory(w_prim_md, eng);
      e->w_reorder = dnnl::reorder(e->user_w, e->prim_w);
    } else {
      e->prim_w = e->user_w;
    }
  } else {
    dnnl::convolution_backward_weights::desc bwd_desc(dnnl::algorithm::convolution_direct, src_md, w_any_md, dst_md,
                                                      strides, dil, pad_l, pad_r);
    dnnl::convolution_backward_weights::primitive_desc pd(bwd_desc, eng, fwd_pd);
    // oneDNN 2.6's jit_1x1 backward-weights kernels give wrong results intermittently with 2+ OpenMP threads on
    // strided 1x1 convs (seen with jit_1x1:avx2, mb3 ic4 oc5 8x8 s2); take the next implementation instead.
    if (g.sh > 1 || g.sw > 1) {
      while (std::string(pd.impl_info_str()).find("jit_1x1") != std::string::npos) {
        if (!pd.next_impl()) throw ArgError("no oneDNN backward-weights implementation besides jit_1x1");
      }
    }
    e->prim = dnnl::convolution_backward_weights(pd);
    e->src = memory(src_md, eng, DNNL_MEMORY_NONE);
    e->dst = memory(dst_md, eng, DNNL_MEMORY_NONE);
    memory::desc w_prim_md = pd.diff_weights_desc();
    if (w_prim_md != w_user_md) {
      e->reorder_w = true;
      e->prim_w = memory(w_prim_md, eng);
      e->w_reorder = dnnl::reorder(e->prim_w, e->user_w);
    } else {
      e->prim_w = e->user_w;
    }
  }
  if (cache.size() >= kMaxCache) cache.clear();
  auto key = cache_key(kind, g, has_bias, act, alpha, nthr);
  ConvEntry* raw = e.get();
  cache[key] = std::move(e);
  return raw;
}

// Filter reorders are tiny (<= a few hundred KB): one thread, so no OpenMP barrier (which costs a scheduler
// time slice when the machine is busy).
void reorder_1t(dnnl::reorder& r, dnnl::stream& s, memory& from, memory& to) {
  ThreadScope one(1);
  r.execute(s, from, to);
}

}  // namespace

// conv2d(heap, kind, geom, a, b, c, out, act, alpha)
//   kind 0: a = x, b = w, c = bias or -1, out = y
//   kind 1: a = dy, b = w, out = dx
//   kind 2: a = x, b = dy, out = dw
napi_value Conv2d(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 9;
    napi_value argv[9];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < 9) throw ArgError("conv2d(heap, kind, geom, a, b, c, out, act, alpha) needs 9 arguments");
    size_t heap_len = 0;
    uint8_t* base = heap_base(env, argv[0], &heap_len);
    int kind = static_cast<int>(get_i64(env, argv[1], "kind"));
    if (kind < 0 || kind > 2) throw ArgError("kind must be 0 (forward), 1 (backward data) or 2 (backward weights)");
    const int32_t* gi = get_i32_array(env, argv[2], 17, "geom");
    Geom g;
    memory::dim* gp = &g.N;
    for (int i = 0; i < 17; ++i) {
      gp[i] = gi[i];
      if (gp[i] < (i >= 13 ? 0 : 1)) throw ArgError("geom[" + std::to_string(i) + "] out of range");
    }
    int64_t a = get_i64(env, argv[3], "a");
    int64_t b = get_i64(env, argv[4], "b");
    int64_t c = get_i64(env, argv[5], "c");
    int64_t out = get_i64(env, argv[6], "out");
    int act = static_cast<int>(get_i64(env, argv[7], "act"));
    float alpha = static_cast<float>(get_f64(env, argv[8], "alpha"));
    bool has_bias = kind == 0 && c >= 0;
    if (kind != 0) act = 0, alpha = 0.f;

    const double flops = 2.0 * g.N * g.Ho * g.Wo * g.Co * g.Ci * g.kh * g.kw;
    const int nthr = threads_for(flops);
    ThreadScope threads(nthr);
    auto it = cache.find(cache_key(kind, g, has_bias, act, alpha, nthr));
    ConvEntry* e = it != cache.end() ? it->second.get() : build(kind, g, has_bias, act, alpha, nthr);

    const int64_t xs = g.N * g.H * g.W * g.Ci, ys = g.N * g.Ho * g.Wo * g.Co, ws = g.kh * g.kw * g.Ci * g.Co;
    auto& s = cpu_stream();
    if (kind == 0) {
      e->src.set_data_handle(heap_f32(base, heap_len, a, xs, "x"));
      e->user_w.set_data_handle(heap_f32(base, heap_len, b, ws, "filter"));
      e->dst.set_data_handle(heap_f32(base, heap_len, out, ys, "output"));
      if (e->reorder_w) reorder_1t(e->w_reorder, s, e->user_w, e->prim_w);
      std::unordered_map<int, memory> args = {
          {DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, e->prim_w}, {DNNL_ARG_DST, e->dst}};
      if (has_bias) {
        e->bias.set_data_handle(heap_f32(base, heap_len, c, g.Co, "bias"));
        args[DNNL_ARG_BIAS] = e->bias;
      }
      e->prim.execute(s, args);
    } else if (kind == 1) {
      e->dst.set_data_handle(heap_f32(base, heap_len, a, ys, "dy"));
      e->user_w.set_data_handle(heap_f32(base, heap_len, b, ws, "filter"));
      e->src.set_data_handle(heap_f32(base, heap_len, out, xs, "dx"));
      if (e->reorder_w) reorder_1t(e->w_reorder, s, e->user_w, e->prim_w);
      e->prim.execute(s, {{DNNL_ARG_DIFF_DST, e->dst}, {DNNL_ARG_WEIGHTS, e->prim_w}, {DNNL_ARG_DIFF_SRC, e->src}});
    } else {
      e->src.set_data_handle(heap_f32(base, heap_len, a, xs, "x"));
      e->dst.set_data_handle(heap_f32(base, heap_len, b, ys, "dy"));
      e->user_w.set_data_handle(heap_f32(base, heap_len, out, ws, "dw"));
      e->prim.execute(s, {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_DIFF_DST, e->dst}, {DNNL_ARG_DIFF_WEIGHTS, e->prim_w}});
      if (e->reorder_w) reorder_1t(e->w_reorder, s, e->prim_w, e->user_w);
    }
    s.wait();
    return nullptr;
  });
}

size_t conv_cache_size() { return cache.size(); }

}  // namespace lorkd
