// Shared helpers for the lorkd native kernels: argument parsing for N-API, the oneDNN engine and stream.
#pragma once

#include <node_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "oneapi/dnnl/dnnl.hpp"

namespace lorkd {

// Thrown inside kernels; converted to a JS Error at the N-API boundary.
struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

dnnl::engine& cpu_engine();
dnnl::stream& cpu_stream();

// Argument readers. Each throws ArgError naming the argument when the JS value has the wrong type.
uint8_t* heap_base(napi_env env, napi_value v, size_t* length);
int64_t get_i64(napi_env env, napi_value v, const char* what);
double get_f64(napi_env env, napi_value v, const char* what);
const int32_t* get_i32_array(napi_env env, napi_value v, size_t expected, const char* what);

// Returns a float pointer into the heap at byte offset `off`, checking that `count` floats fit.
float* heap_f32(uint8_t* base, size_t length, int64_t off, int64_t count, const char* what);

// Runs `fn`, turning C++ exceptions into a pending JS exception.
template <typename F>
napi_value guarded(napi_env env, F&& fn) {
  try {
    return fn();
  } catch (const dnnl::error& e) {
    std::string msg = std::string("lorkd native (oneDNN): ") + e.what();
    napi_throw_error(env, nullptr, msg.c_str());
  } catch (const std::exception& e) {
    std::string msg = std::string("lorkd native: ") + e.what();
    napi_throw_error(env, nullptr, msg.c_str());
  }
  return nullptr;
}

// Applies the tfjs fused activation code as a oneDNN post-op: 0 none, 1 relu/leakyrelu (alpha = slope),
// 2 relu6, 3 elu, 4 sigmoid.
void append_activation(dnnl::post_ops& ops, int act, float alpha);

// The thread count set by setNumThreads (default: OpenMP's at load). Small problems run on one thread:
// an OpenMP barrier costs more than they do, and far more on a loaded machine.
int max_threads();
int threads_for(double flops);

// Sets this thread's OpenMP team size for the lifetime of the object, restoring the previous size after.
struct ThreadScope {
  explicit ThreadScope(int n);
  ~ThreadScope();
  int previous;
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;
};

napi_value Conv2d(napi_env env, napi_callback_info info);
napi_value MatMul(napi_env env, napi_callback_info info);
napi_value SumRows(napi_env env, napi_callback_info info);
napi_value Elementwise(napi_env env, napi_callback_info info);
napi_value BinaryBroadcast(napi_env env, napi_callback_info info);
napi_value ReduceSum(napi_env env, napi_callback_info info);
napi_value CacheSize(napi_env env, napi_callback_info info);
napi_value GroupNorm(napi_env env, napi_callback_info info);
napi_value GroupNormGrad(napi_env env, napi_callback_info info);

}  // namespace lorkd
