// N-API entry point of the lorkd native kernels: engine/stream singletons, argument helpers, exports.
#include <omp.h>

#include <sstream>

#include "common.h"

namespace lorkd {

dnnl::engine& cpu_engine() {
  static thread_local dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& cpu_stream() {
  static thread_local dnnl::stream s(cpu_engine());
  return s;
}

uint8_t* heap_base(napi_env env, napi_value v, size_t* length) {
  bool is_typed = false;
  napi_is_typedarray(env, v, &is_typed);
  if (!is_typed) throw ArgError("heap must be a Uint8Array view of the wasm memory");
  napi_typedarray_type type;
  size_t len = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t byte_offset = 0;
  if (napi_get_typedarray_info(env, v, &type, &len, &data, &buffer, &byte_offset) != napi_ok || data == nullptr) {
    throw ArgError("could not read the heap typed array");
  }
  if (type != napi_uint8_array) throw ArgError("heap must be a Uint8Array");
  *length = len;
  return static_cast<uint8_t*>(data);
}

int64_t get_i64(napi_env env, napi_value v, const char* what) {
  int64_t out = 0;
  if (napi_get_value_int64(env, v, &out) != napi_ok) throw ArgError(std::string(what) + " must be a number");
  return out;
}

double get_f64(napi_env env, napi_value v, const char* what) {
  double out = 0;
  if (napi_get_value_double(env, v, &out) != napi_ok) throw ArgError(std::string(what) + " must be a number");
  return out;
}

const int32_t* get_i32_array(napi_env env, napi_value v, size_t expected, const char* what) {
  bool is_typed = false;
  napi_is_typedarray(env, v, &is_typed);
  if (!is_typed) throw ArgError(std::string(what) + " must be an Int32Array");
  napi_typedarray_type type;
  size_t len = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t byte_offset = 0;
  napi_get_typedarray_info(env, v, &type, &len, &data, &buffer, &byte_offset);
  if (type != napi_int32_array || len < expected) {
    throw ArgError(std::string(what) + " must be an Int32Array of length " + std::to_string(expected));
  }
  return static_cast<const int32_t*>(data);
}

float* heap_f32(uint8_t* base, size_t length, int64_t off, int64_t count, const char* what) {
  if (off < 0 || (off & 3) != 0 || static_cast<uint64_t>(off) + static_cast<uint64_t>(count) * 4 > length) {
    throw ArgError(std::string(what) + ": offset " + std::to_string(off) + " with " + std::to_string(count) +
                   " floats is outside the heap");
  }
  return reinterpret_cast<float*>(base + off);
}

static int g_threads = 0;

int max_threads() {
  if (g_threads <= 0) g_threads = omp_get_max_threads();
  return g_threads;
}

int threads_for(double flops) { return flops < 4e6 ? 1 : max_threads(); }

ThreadScope::ThreadScope(int n) : previous(omp_get_max_threads()) { omp_set_num_threads(n); }
ThreadScope::~ThreadScope() { omp_set_num_threads(previous); }

void append_activation(dnnl::post_ops& ops, int act, float alpha) {
  using A = dnnl::algorithm;
  switch (act) {
    case 0:
      return;
    case 1:
      ops.append_eltwise(1.f, A::eltwise_relu, alpha, 0.f);
      return;
    case 2:
      ops.append_eltwise(1.f, A::eltwise_clip, 0.f, 6.f);
      return;
    case 3:
      ops.append_eltwise(1.f, A::eltwise_elu, 1.f, 0.f);
      return;
    case 4:
      ops.append_eltwise(1.f, A::eltwise_logistic, 0.f, 0.f);
      return;
    default:
      throw ArgError("unknown activation code " + std::to_string(act));
  }
}

static napi_value Version(napi_env env, napi_callback_info) {
  const dnnl_version_t* v = dnnl_version();
  std::ostringstream s;
  s << "oneDNN " << v->major << "." << v->minor << "." << v->patch << " (" << v->hash << "), " << max_threads()
    << " OpenMP threads";
  napi_value out;
  std::string str = s.str();
  napi_create_string_utf8(env, str.c_str(), str.size(), &out);
  return out;
}

static napi_value SetNumThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 1;
    napi_value argv[1];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < 1) throw ArgError("setNumThreads(n) needs n");
    int64_t n = get_i64(env, argv[0], "n");
    if (n < 1 || n > 1024) throw ArgError("thread count must be in 1..1024, got " + std::to_string(n));
    g_threads = static_cast<int>(n);
    omp_set_num_threads(g_threads);
    return nullptr;
  });
}

}  // namespace lorkd

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"version", nullptr, lorkd::Version, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setNumThreads", nullptr, lorkd::SetNumThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2d", nullptr, lorkd::Conv2d, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matMul", nullptr, lorkd::MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binaryBroadcast", nullptr, lorkd::BinaryBroadcast, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reduceSum", nullptr, lorkd::ReduceSum, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"elementwise", nullptr, lorkd::Elementwise, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumRows", nullptr, lorkd::SumRows, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"cacheSize", nullptr, lorkd::CacheSize, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupNorm", nullptr, lorkd::GroupNorm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupNormGrad", nullptr, lorkd::GroupNormGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
