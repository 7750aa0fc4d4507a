// Fused GroupNorm forward and backward on NHWC float32 tensors (tfjs layout), with an optional fused ReLU.
// x is [N, S, C] (S = H*W), C split into G contiguous groups of C/G channels; gamma/beta are [C].
// Forward: per sample n and group g, mean and (biased) variance over S x C/G values (two passes, float
// per-channel accumulators combined in double), then y = (x - mean) * rstd * gamma + beta, relu(y) if asked.
// It also writes mean and rstd = 1/sqrt(var + eps) [N, G] for the backward pass.
// Backward (xhat = (x - mean) * rstd, M = S * C/G, dz = dy masked by y > 0 when the ReLU was fused):
//   dbeta[c] = sum dz, dgamma[c] = sum dz * xhat (accumulated as dz * (x - mean) for accuracy),
//   dx = rstd * (gamma[c] dz - mean_g(gamma dz) - xhat * mean_g(gamma dz xhat)).
// Samples are split across OpenMP threads; per-sample dgamma/dbeta partials are summed in sample order,
// so results do not depend on the thread count.
#include <omp.h>

#include <cmath>
#include <vector>

#include "common.h"

namespace lorkd {

namespace {

struct Dims {
  int64_t n, s, c, g, cg;
  bool relu;
};

// Per-channel sums over the S rows of one sample: acc[c] += x[i, c].
__attribute__((target_clones("avx2", "default"))) void channel_sum(const float* x, int64_t s, int64_t c,
                                                                   float* acc) {
  for (int64_t i = 0; i < s; ++i) {
    const float* row = x + i * c;
    for (int64_t j = 0; j < c; ++j) acc[j] += row[j];
  }
}

// acc[c] += (x[i, c] - m[c])^2.
__attribute__((target_clones("avx2", "default"))) void channel_sq(const float* x, int64_t s, int64_t c,
                                                                  const float* m, float* acc) {
  for (int64_t i = 0; i < s; ++i) {
    const float* row = x + i * c;
    for (int64_t j = 0; j < c; ++j) {
      const float d = row[j] - m[j];
      acc[j] += d * d;
    }
  }
}

// y[i, c] = x[i, c] * a[c] + b[c], then relu.
__attribute__((target_clones("avx2", "default"))) void affine(const float* x, int64_t s, int64_t c, const float* a,
                                                              const float* b, float* y, bool relu) {
  for (int64_t i = 0; i < s; ++i) {
    const float* row = x + i * c;
    float* out = y + i * c;
    if (relu) {
      for (int64_t j = 0; j < c; ++j) {
        const float v = row[j] * a[j] + b[j];
        out[j] = v > 0.f ? v : 0.f;
      }
    } else {
      for (int64_t j = 0; j < c; ++j) out[j] = row[j] * a[j] + b[j];
    }
  }
}

// Per-channel sums of dz and dz * (x - m) over S rows; dz = dy, or dy where y > 0 when `y` is given (fused ReLU).
__attribute__((target_clones("avx2", "default"))) void grad_sums(const float* x, const float* dy, const float* y,
                                                                 int64_t s, int64_t c, const float* m, float* sdy,
                                                                 float* sdyx) {
  for (int64_t i = 0; i < s; ++i) {
    const float* xr = x + i * c;
    const float* dr = dy + i * c;
    if (y != nullptr) {
      const float* yr = y + i * c;
      for (int64_t j = 0; j < c; ++j) {
        const float d = yr[j] > 0.f ? dr[j] : 0.f;
        sdy[j] += d;
        sdyx[j] += d * (xr[j] - m[j]);
      }
    } else {
      for (int64_t j = 0; j < c; ++j) {
        sdy[j] += dr[j];
        sdyx[j] += dr[j] * (xr[j] - m[j]);
      }
    }
  }
}

// dx[i, c] = A[c] * dz[i, c] + B[c] * (x[i, c] - m[c]) + K[c].
__attribute__((target_clones("avx2", "default"))) void grad_dx(const float* x, const float* dy, const float* y,
                                                               int64_t s, int64_t c, const float* m, const float* A,
                                                               const float* B, const float* K, float* dx) {
  for (int64_t i = 0; i < s; ++i) {
    const float* xr = x + i * c;
    const float* dr = dy + i * c;
    float* o = dx + i * c;
    if (y != nullptr) {
      const float* yr = y + i * c;
      for (int64_t j = 0; j < c; ++j) {
        const float d = yr[j] > 0.f ? dr[j] : 0.f;
        o[j] = A[j] * d + B[j] * (xr[j] - m[j]) + K[j];
      }
    } else {
      for (int64_t j = 0; j < c; ++j) o[j] = A[j] * dr[j] + B[j] * (xr[j] - m[j]) + K[j];
    }
  }
}

Dims read_dims(const int32_t* d) {
  Dims out{d[0], d[1], d[2], d[3], 0, d[4] != 0};
  if (out.n < 0 || out.s < 1 || out.c < 1 || out.g < 1 || out.c % out.g != 0) {
    throw ArgError("groupNorm dims must be [N >= 0, H*W >= 1, C >= 1, G >= 1 dividing C, relu], got [" +
                   std::to_string(out.n) + ", " + std::to_string(out.s) + ", " + std::to_string(out.c) + ", " +
                   std::to_string(out.g) + "]");
  }
  out.cg = out.c / out.g;
  return out;
}

int threads_for_groupnorm(const Dims& d) {
  // ~10 flops per value per pass; one thread below the shared threshold, never more threads than samples.
  const int nt = threads_for(10.0 * static_cast<double>(d.n * d.s * d.c));
  return static_cast<int>(d.n < nt ? (d.n < 1 ? 1 : d.n) : nt);
}

void forward_sample(const Dims& d, const float* x, const float* gamma, const float* beta, float* y, float* mean,
                    float* rstd, float eps, float* scratch) {
  const int64_t c = d.c;
  float* acc = scratch;       // [C]
  float* m = scratch + c;     // [C]: the group mean per channel
  float* a = scratch + 2 * c;  // [C]
  float* b = scratch + 3 * c;  // [C]
  const double count = static_cast<double>(d.s * d.cg);
  for (int64_t j = 0; j < c; ++j) acc[j] = 0.f;
  channel_sum(x, d.s, c, acc);
  for (int64_t g = 0; g < d.g; ++g) {
    double t = 0;
    for (int64_t j = g * d.cg; j < (g + 1) * d.cg; ++j) t += acc[j];
    const float mu = static_cast<float>(t / count);
    mean[g] = mu;
    for (int64_t j = g * d.cg; j < (g + 1) * d.cg; ++j) m[j] = mu;
  }
  for (int64_t j = 0; j < c; ++j) acc[j] = 0.f;
  channel_sq(x, d.s, c, m, acc);
  for (int64_t g = 0; g < d.g; ++g) {
    double t = 0;
    for (int64_t j = g * d.cg; j < (g + 1) * d.cg; ++j) t += acc[j];
    const float r = static_cast<float>(1.0 / std::sqrt(t / count + static_cast<double>(eps)));
    rstd[g] = r;
    for (int64_t j = g * d.cg; j < (g + 1) * d.cg; ++j) {
      a[j] = r * gamma[j];
      b[j] = beta[j] - m[j] * a[j];
    }
  }
  affine(x, d.s, c, a, b, y, d.relu);
}

// One sample's dx, and its dgamma/dbeta partials (pg, pb: [C]).
void backward_sample(const Dims& d, const float* x, const float* dy, const float* y, const float* gamma,
                     const float* mean, const float* rstd, float* dx, float* pg, float* pb, float* scratch) {
  const int64_t c = d.c;
  float* sdy = scratch;
  float* sdyx = scratch + c;
  float* A = scratch + 2 * c;
  float* B = scratch + 3 * c;
  float* K = scratch + 4 * c;
  float* M = scratch + 5 * c;  // the group mean per channel
  for (int64_t j = 0; j < 2 * c; ++j) scratch[j] = 0.f;
  for (int64_t j = 0; j < c; ++j) M[j] = mean[j / d.cg];
  grad_sums(x, dy, y, d.s, c, M, sdy, sdyx);
  const double count = static_cast<double>(d.s * d.cg);
  for (int64_t g = 0; g < d.g; ++g) {
    const double r = rstd[g];
    double s1 = 0, s2 = 0;  // sum gamma dz, sum gamma dz xhat over the group
    for (int64_t j = g * d.cg; j < (g + 1) * d.cg; ++j) {
      const double dxhat_xhat = r * static_cast<double>(sdyx[j]);  // sum dz * xhat for channel j
      pb[j] = sdy[j];
      pg[j] = static_cast<float>(dxhat_xhat);
      s1 += gamma[j] * static_cast<double>(sdy[j]);
      s2 += gamma[j] * dxhat_xhat;
    }
    const double m1 = s1 / count, m2 = s2 / count;
    // dx = r*gamma*dz - r*m1 - r*(x - mu)*r*m2
    const float bg = static_cast<float>(-r * r * m2);
    const float kg = static_cast<float>(-r * m1);
    for (int64_t j = g * d.cg; j < (g + 1) * d.cg; ++j) {
      A[j] = static_cast<float>(r * gamma[j]);
      B[j] = bg;
      K[j] = kg;
    }
  }
  grad_dx(x, dy, y, d.s, c, M, A, B, K, dx);
}

}  // namespace

// groupNorm(heap, dims [N, S, C, G, relu], x, gamma, beta, y, mean, rstd, eps)
napi_value GroupNorm(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 9;
    napi_value argv[9];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < 9) throw ArgError("groupNorm(heap, dims, x, gamma, beta, y, mean, rstd, eps) needs 9 arguments");
    size_t len = 0;
    uint8_t* base = heap_base(env, argv[0], &len);
    const Dims d = read_dims(get_i32_array(env, argv[1], 5, "dims"));
    const int64_t total = d.n * d.s * d.c;
    const float* x = heap_f32(base, len, get_i64(env, argv[2], "x"), total, "x");
    const float* gamma = heap_f32(base, len, get_i64(env, argv[3], "gamma"), d.c, "gamma");
    const float* beta = heap_f32(base, len, get_i64(env, argv[4], "beta"), d.c, "beta");
    float* y = heap_f32(base, len, get_i64(env, argv[5], "y"), total, "y");
    float* mean = heap_f32(base, len, get_i64(env, argv[6], "mean"), d.n * d.g, "mean");
    float* rstd = heap_f32(base, len, get_i64(env, argv[7], "rstd"), d.n * d.g, "rstd");
    const float eps = static_cast<float>(get_f64(env, argv[8], "eps"));
    if (!(eps >= 0.f)) throw ArgError("groupNorm epsilon must be >= 0");
    const int nt = threads_for_groupnorm(d);
#pragma omp parallel num_threads(nt)
    {
      std::vector<float> scratch(4 * d.c);
#pragma omp for schedule(static)
      for (int64_t i = 0; i < d.n; ++i) {
        forward_sample(d, x + i * d.s * d.c, gamma, beta, y + i * d.s * d.c, mean + i * d.g, rstd + i * d.g, eps,
                       scratch.data());
      }
    }
    return nullptr;
  });
}

// groupNormGrad(heap, dims [N, S, C, G, relu], x, y (or -1 without relu), dy, gamma, mean, rstd, dx, dgamma, dbeta)
napi_value GroupNormGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 11;
    napi_value argv[11];
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < 11) {
      throw ArgError("groupNormGrad(heap, dims, x, y, dy, gamma, mean, rstd, dx, dgamma, dbeta) needs 11 arguments");
    }
    size_t len = 0;
    uint8_t* base = heap_base(env, argv[0], &len);
    const Dims d = read_dims(get_i32_array(env, argv[1], 5, "dims"));
    const int64_t total = d.n * d.s * d.c;
    const float* x = heap_f32(base, len, get_i64(env, argv[2], "x"), total, "x");
    const float* y = d.relu ? heap_f32(base, len, get_i64(env, argv[3], "y"), total, "y") : nullptr;
    const float* dy = heap_f32(base, len, get_i64(env, argv[4], "dy"), total, "dy");
    const float* gamma = heap_f32(base, len, get_i64(env, argv[5], "gamma"), d.c, "gamma");
    const float* mean = heap_f32(base, len, get_i64(env, argv[6], "mean"), d.n * d.g, "mean");
    const float* rstd = heap_f32(base, len, get_i64(env, argv[7], "rstd"), d.n * d.g, "rstd");
    float* dx = heap_f32(base, len, get_i64(env, argv[8], "dx"), total, "dx");
    float* dgamma = heap_f32(base, len, get_i64(env, argv[9], "dgamma"), d.c, "dgamma");
    float* dbeta = heap_f32(base, len, get_i64(env, argv[10], "dbeta"), d.c, "dbeta");
    std::vector<float> partial(static_cast<size_t>(2 * d.n * d.c));
    const int nt = threads_for_groupnorm(d);
#pragma omp parallel num_threads(nt)
    {
      std::vector<float> scratch(6 * d.c);
#pragma omp for schedule(static)
      for (int64_t i = 0; i < d.n; ++i) {
        const int64_t off = i * d.s * d.c;
        backward_sample(d, x + off, dy + off, y ? y + off : nullptr, gamma, mean + i * d.g, rstd + i * d.g, dx + off,
                        partial.data() + 2 * i * d.c, partial.data() + (2 * i + 1) * d.c, scratch.data());
      }
    }
    for (int64_t j = 0; j < d.c; ++j) {
      double g = 0, b = 0;
      for (int64_t i = 0; i < d.n; ++i) {
        g += partial[2 * i * d.c + j];
        b += partial[(2 * i + 1) * d.c + j];
      }
      dgamma[j] = static_cast<float>(g);
      dbeta[j] = static_cast<float>(b);
    }
    return nullptr;
  });
}

}  // namespace lorkd
