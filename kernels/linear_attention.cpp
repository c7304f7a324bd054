// linear_attention_cpu: naive loops (see linear_attention.h).
#include "kernels/linear_attention.h"

#include <algorithm>
#include <vector>

namespace wl {

void linear_attention_cpu(const float* q, const float* k, const float* v, const float* cos, const float* sin, int64_t N,
                          int64_t H, int64_t d, float eps, const std::function<bool(int64_t, int64_t)>& visible,
                          float* out) {
  const int64_t half = d / 2;
  // relu then rotate one head vector of token t.
  auto phi_rot = [&](const float* x, int64_t t, std::vector<float>& plain, std::vector<float>& rot) {
    for (int64_t c = 0; c < d; ++c) plain[c] = std::max(x[c], 0.f);
    for (int64_t i = 0; i < half; ++i) {
      float c = cos[t * half + i], s = sin[t * half + i];
      float a = plain[2 * i], b = plain[2 * i + 1];
      rot[2 * i] = a * c - b * s;
      rot[2 * i + 1] = a * s + b * c;
    }
  };
  std::vector<float> qp(d), qr(d), kp(d), kr(d), num(d);
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t n = 0; n < N; ++n) {
      phi_rot(q + (n * H + h) * d, n, qp, qr);
      std::fill(num.begin(), num.end(), 0.f);
      double den = 0.0;
      for (int64_t m = 0; m < N; ++m) {
        if (!visible(n, m)) continue;
        phi_rot(k + (m * H + h) * d, m, kp, kr);
        double score = 0.0, plain = 0.0;
        for (int64_t c = 0; c < d; ++c) {
          score += double(kr[c]) * qr[c];
          plain += double(kp[c]) * qp[c];
        }
        const float* vm = v + (m * H + h) * d;
        for (int64_t c = 0; c < d; ++c) num[c] += static_cast<float>(score) * vm[c];
        den += plain;
      }
      float* o = out + (n * H + h) * d;
      for (int64_t c = 0; c < d; ++c) o[c] = num[c] / (static_cast<float>(den) + eps);
    }
  }
}

}  // namespace wl
