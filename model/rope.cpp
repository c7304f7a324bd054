// 3D RoPE tables and rotation (see rope.h).
#include "model/rope.h"

#include <ATen/ATen.h>

#include <cmath>
#include <vector>

#include "model/dit_config.h"

namespace wl {
namespace {

// Per-axis frequencies theta^(-2j/dim), j < dim/2, in float64 as the official module.
std::vector<double> axis_freqs(double theta, int dim) {
  std::vector<double> f(dim / 2);
  for (int j = 0; j < dim / 2; ++j) f[j] = std::pow(theta, -2.0 * j / dim);
  return f;
}

}  // namespace

void rope_tables(const DiTConfig& c, int64_t first_frame, int64_t frames, int64_t grid_h, int64_t grid_w, at::Tensor& cos,
                 at::Tensor& sin) {
  const int half = c.head_dim / 2;
  const auto ft = axis_freqs(c.rope_theta, c.rope_t_dim());
  const auto fh = axis_freqs(c.rope_theta, c.rope_h_dim());
  const auto fw = axis_freqs(c.rope_theta, c.rope_h_dim());
  const int64_t n = frames * grid_h * grid_w;
  cos = at::empty({n, half}, at::kFloat);
  sin = at::empty({n, half}, at::kFloat);
  float* pc = cos.data_ptr<float>();
  float* ps = sin.data_ptr<float>();
  for (int64_t f = 0; f < frames; ++f)
    for (int64_t y = 0; y < grid_h; ++y)
      for (int64_t x = 0; x < grid_w; ++x) {
        int64_t token = (f * grid_h + y) * grid_w + x;
        int j = 0;
        auto put = [&](double angle) {
          pc[token * half + j] = static_cast<float>(std::cos(angle));
          ps[token * half + j] = static_cast<float>(std::sin(angle));
          ++j;
        };
        for (double w : ft) put(static_cast<double>(first_frame + f) * w);
        for (double w : fh) put(static_cast<double>(y) * w);
        for (double w : fw) put(static_cast<double>(x) * w);
      }
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  at::Tensor xf = x.to(at::kFloat);
  auto pairs = xf.unflatten(-1, {-1, 2});          // [..., N, d/2, 2]
  at::Tensor x0 = pairs.select(-1, 0), x1 = pairs.select(-1, 1);
  at::Tensor c = cos.to(x.device()), s = sin.to(x.device());
  at::Tensor out = at::stack({x0 * c - x1 * s, x0 * s + x1 * c}, -1).flatten(-2);   // [..., N, d]
  return out.to(x.scalar_type());
}

void rope_shift_tables(const DiTConfig& c, int64_t delta, at::Tensor& cos, at::Tensor& sin) {
  const int half = c.head_dim / 2;
  const auto ft = axis_freqs(c.rope_theta, c.rope_t_dim());
  cos = at::ones({1, half}, at::kFloat);
  sin = at::zeros({1, half}, at::kFloat);
  for (size_t j = 0; j < ft.size(); ++j) {
    double angle = -static_cast<double>(delta) * ft[j];
    cos[0][j] = std::cos(angle);
    sin[0][j] = std::sin(angle);
  }
}

}  // namespace wl
