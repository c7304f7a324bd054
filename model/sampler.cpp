// Flow-matching few-step sampler and noise generator (see sampler.h).
#include "model/sampler.h"

#include <ATen/ATen.h>

#include <cmath>

#include "kernels/core/error.h"
#include "kernels/core/hash.h"

namespace wl {

double flow_sigma(double timestep, double shift) {
  WL_CHECK(timestep >= 0 && timestep <= 1000, "timestep ", timestep, " is outside [0, 1000]");
  double best_sigma = 0.0, best_distance = INFINITY;
  for (int i = 0; i < 1000; ++i) {
    double s = 1.0 - i / 1000.0;
    double sigma = shift * s / (1.0 + (shift - 1.0) * s);
    double distance = std::abs(sigma * 1000.0 - timestep);
    if (distance < best_distance) best_distance = distance, best_sigma = sigma;
  }
  // Below the grid's last point (t < ~7) the nearest is sigma(0.001); t = 0 means clean.
  return timestep == 0 ? 0.0 : best_sigma;
}

at::Tensor NoiseSource::normal(at::IntArrayRef shape, const at::TensorOptions& options) {
  at::Tensor out = at::empty(shape, at::kFloat);
  float* p = out.data_ptr<float>();
  const int64_t n = out.numel();
  const uint64_t key = splitmix64(seed_);
  for (int64_t i = 0; i < n; i += 2) {
    // Two 53-bit uniforms in (0, 1] from one counter value, then Box-Muller.
    uint64_t pair = (counter_ + static_cast<uint64_t>(i)) / 2;
    uint64_t a = splitmix64(key ^ (2 * pair)), b = splitmix64(key ^ (2 * pair + 1));
    double u1 = ((a >> 11) + 1.0) * 0x1.0p-53, u2 = (b >> 11) * 0x1.0p-53;
    double r = std::sqrt(-2.0 * std::log(u1));
    p[i] = static_cast<float>(r * std::cos(2.0 * M_PI * u2));
    if (i + 1 < n) p[i + 1] = static_cast<float>(r * std::sin(2.0 * M_PI * u2));
  }
  counter_ += static_cast<uint64_t>(n + (n & 1));   // keep pairs aligned
  return out.to(options);
}

at::Tensor sample_block(const SamplerConfig& config, at::IntArrayRef shape, const at::TensorOptions& options,
                        NoiseSource& noise, const Denoiser& denoise) {
  WL_CHECK(!config.timesteps.empty(), "sampler needs at least one timestep");
  for (size_t i = 1; i < config.timesteps.size(); ++i)
    WL_CHECK(config.timesteps[i] < config.timesteps[i - 1], "sampler timesteps must decrease, got ", config.timesteps[i - 1],
             " then ", config.timesteps[i]);
  at::Tensor x = noise.normal(shape, options);
  for (size_t i = 0; i < config.timesteps.size(); ++i) {
    double t = config.timesteps[i];
    at::Tensor v = denoise(x, t);
    at::Tensor x0 = x - flow_sigma(t, config.flow_shift) * v;
    if (i + 1 == config.timesteps.size()) return x0;
    double next = flow_sigma(config.timesteps[i + 1], config.flow_shift);
    x = (1.0 - next) * x0 + next * noise.normal(shape, options);   // fresh noise each step (Self-Forcing)
  }
  return x;   // not reached
}

at::Tensor guided_velocity(const LinearDiT& model, const DiTStep& step, const CaptionContext& caption, WorldState& state,
                           double action_guidance) {
  WL_CHECK(action_guidance >= 0 && action_guidance <= 20, "action guidance must be in [0, 20], got ", action_guidance);
  if (action_guidance == 1.0 || model.config().action_dims == 0) return model.forward(step, caption, state, /*commit=*/false);
  // Rows 0..B-1 conditional, B..2B-1 the same with the action embedding dropped; both halves read
  // state row i % B (LinearDiT::forward).
  const int64_t B = step.latents.size(0);
  at::Tensor keep = step.action_keep.defined() ? step.action_keep.to(at::kFloat)
                                               : at::ones({B}, step.latents.options().dtype(at::kFloat));
  DiTStep both = step;
  both.latents = at::cat({step.latents, step.latents});
  both.timestep = at::cat({step.timestep, step.timestep});
  both.actions = at::cat({step.actions, step.actions});
  both.action_keep = at::cat({keep, at::zeros_like(keep)});
  at::Tensor v = model.forward(both, caption, state, /*commit=*/false);
  at::Tensor conditional = v.narrow(0, 0, B), none = v.narrow(0, B, B);
  return none + action_guidance * (conditional - none);
}

at::Tensor generate_block(const LinearDiT& model, const CaptionContext& caption, WorldState& state, const at::Tensor& actions,
                          int64_t frames, const SamplerConfig& config, NoiseSource& noise) {
  const auto& c = model.config();
  const int64_t B = state.batch(), first = state.next_frame();
  std::vector<int64_t> shape = {B, c.in_channels, frames, state.grid_h() * c.patch[1], state.grid_w() * c.patch[2]};
  const at::Tensor& like = state.conv(0);
  auto options = at::TensorOptions().dtype(like.scalar_type()).device(like.device());
  size_t step = 0;   // sample_block calls the denoiser once per step, in order
  Denoiser denoise = [&](const at::Tensor& x, double t) {
    return guided_velocity(model, {x, at::full({B}, t, options.dtype(at::kFloat)), actions, first}, caption, state,
                           config.guidance_at(step++));
  };
  at::Tensor clean = sample_block(config, shape, options, noise, denoise);
  model.forward({clean, at::zeros({B}, options.dtype(at::kFloat)), actions, first}, caption, state, /*commit=*/true);
  return clean;
}

}  // namespace wl
