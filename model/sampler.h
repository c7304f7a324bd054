// The few-step autoregressive sampler of LongSANA, as free functions over a denoise callback.
// Flow matching: the model predicts v = eps - x0 at x_t = (1 - sigma) x0 + sigma eps, so
//   x0 = x - sigma(t) * v;  between steps x = (1 - sigma_next) x0 + sigma_next * fresh noise;
// after the last step the clean block is x0. sigma(t) is the sigma of the nearest timestep on the
// 1000-point grid sigma = shift*s / (1 + (shift-1)*s), s = 1, 0.999, ..., 0.001 (shift 7), which
// gives sigma(1000, 960, 889, 727) = 1, 0.959957, 0.889153, 0.727410. CFG is 1 (distilled).
// Noise comes from our own counter-based generator, so a seed gives the same numbers on any
// device and a snapshot only needs (seed, counter).
// Callers: the frame loop (one block per call), `worldloop forward/bench`, training rollouts.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "model/linear_dit.h"

namespace wl {

struct SamplerConfig {
  std::vector<int> timesteps = {1000, 960, 889, 727};   // denoise steps, high to low (LongSANA's)
  double flow_shift = 7.0;                              // sigma grid shift
  // Classifier-free action guidance w: v = v(no action) + w * (v(actions) - v(no action)), the "no
  // action" pass dropping the block's action embedding (DiTStep::action_keep = 0; worlds trained with
  // action dropout know that condition). 1: the plain conditional pass; above 1 runs both in one
  // forward pass of twice the batch per step. Models without actions ignore it.
  double action_guidance = 1.0;
  // Guide only the first N denoise steps (0: all). The first step lays out where things go, which is
  // what the action decides; the later ones refine the look, and guiding them can drift the colours.
  int action_guidance_steps = 0;
  // The guidance w of denoise step `step` (0-based): action_guidance, or 1 past action_guidance_steps.
  double guidance_at(size_t step) const {
    return action_guidance_steps == 0 || step < static_cast<size_t>(action_guidance_steps) ? action_guidance : 1.0;
  }
};

// sigma of a timestep on the shifted 1000-point grid (see above); throws for t outside [0, 1000].
double flow_sigma(double timestep, double shift);

// Standard normal numbers from (seed, counter): splitmix64 -> two uniforms -> Box-Muller. The same
// seed and counter give the same tensor on every machine and device.
class NoiseSource {
 public:
  explicit NoiseSource(uint64_t seed = 0, uint64_t counter = 0) : seed_(seed), counter_(counter) {}
  // A [shape] float32 tensor of N(0, 1) made on the CPU, moved to `like`'s device and dtype.
  at::Tensor normal(at::IntArrayRef shape, const at::TensorOptions& options);
  uint64_t seed() const { return seed_; }
  uint64_t counter() const { return counter_; }   // numbers drawn so far

 private:
  uint64_t seed_ = 0;
  uint64_t counter_ = 0;
};

// x, timestep -> velocity v, same shape as x.
using Denoiser = std::function<at::Tensor(const at::Tensor& x, double timestep)>;

// The velocity of one denoise step under the config's action guidance (see SamplerConfig): one
// forward pass (commit = false); at w != 1 that pass runs twice the batch (conditional rows, then the
// no-action rows, reading one state), so guidance costs less than a second pass.
at::Tensor guided_velocity(const LinearDiT& model, const DiTStep& step, const CaptionContext& caption, WorldState& state,
                           double action_guidance);

// Denoises one block from fresh noise of `shape` through the config's timesteps; returns x0.
at::Tensor sample_block(const SamplerConfig& config, at::IntArrayRef shape, const at::TensorOptions& options,
                        NoiseSource& noise, const Denoiser& denoise);

// One block of a session: sample it with the model reading the state, then commit the clean block
// with the t = 0 pass (Algorithm 1). Returns the clean latents [B, C, T, Hl, Wl].
at::Tensor generate_block(const LinearDiT& model, const CaptionContext& caption, WorldState& state, const at::Tensor& actions,
                          int64_t frames, const SamplerConfig& config, NoiseSource& noise);

}  // namespace wl
