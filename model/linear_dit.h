// LinearDiT: the SANA-Video block linear diffusion transformer, exact, with block-causal
// constant-memory inference and per-frame action conditioning.
//
//   latents [B, C, T, Hl, Wl] -> patch embed -> tokens [B, N, D], N = T' * h * w (f, h, w order)
//   timestep [B] or [B, T] (sigma * 1000, truncated to integers as the official model) -> t [B, T, D]
//     (+ action_embedder(actions [B, T, A]) per frame) -> t0 = t_block(t) [B, T, 6D]
//   caption [B, L, Cc] + mask [B, L] -> CaptionContext (cross-attention K/V of every block, once per prompt)
//   blocks: x += g_msa * LinearAttn(mod(LN x)); x += CrossAttn(x, caption); x += g_mlp * MixFFN(mod(LN x))
//   final layer modulated by t -> unpatchify -> velocity [B, C, T, Hl, Wl]
//
// Three ways to run the same weights:
//   forward(step, caption)                  bidirectional over the given frames (no state)
//   forward(step, caption, &state, commit)  one block: attention adds the state's S, z; the temporal
//                                           conv sees the state's last frame; commit=true adds this
//                                           block to the state (the t = 0 pass of Algorithm 1)
//   forward_chunked(step, caption, chunks)  the whole sequence at once, chunk-causal (training, and
//                                           the reference the block-by-block path is tested against)
// CPU runs fp32; CUDA runs in the model dtype (bf16) with fp32 linear-attention accumulation.
// Callers: the sampler (model/sampler.h), `worldloop forward` and `bench`, the frame loop, training.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/dit_config.h"
#include "model/world_state.h"

namespace wl {

// Cross-attention keys and values of one prompt for every block.
struct CaptionContext {
  std::vector<at::Tensor> keys;     // per block [B, H, L, d]
  std::vector<at::Tensor> values;   // per block [B, H, L, d]
  at::Tensor bias;                  // [B, 1, 1, L]: 0 for valid tokens, -10000 for padding (official)
};

struct DiTStep {
  at::Tensor latents;                     // [B, C, T, Hl, Wl] (noisy block)
  at::Tensor timestep;                    // [B] or [B, T]
  at::Tensor actions;                     // [B, T, A], required iff the model has an action embedder
  int64_t first_frame = 0;                // absolute latent frame index of latents[:, :, 0]
  // Debugging and parity tests: called with named intermediates (diffusers' module names:
  // "patch_embedding", "time_embed.timestep", "time_embed.embedded_timestep",
  // "transformer_blocks.{i}", "norm_out", "proj_out"). Empty in normal use.
  std::function<void(const std::string& name, const at::Tensor& value)> trace;
  // Optional [B] or [B, T] of 0/1: 0 drops that row's (frame's) action embedding, the "no action"
  // condition of classifier-free action guidance and of training's action dropout. Undefined: keep all.
  at::Tensor action_keep;
};

struct DiTOptions {
  std::string device = "cpu";             // "cpu" or "cuda[:i]"
  bool bf16 = false;                      // model dtype bf16 (CUDA default), else fp32
};

class LinearDiT {
 public:
  // Moves a checked checkpoint's tensors to the device and dtype.
  LinearDiT(const DiTCheckpoint& checkpoint, const DiTOptions& options);
  // Random weights for a config (benchmarks, tests, training init). Deterministic by seed; the
  // temporal conv and the action embedder's last layer start at zero as in training.
  static LinearDiT random(const DiTConfig& config, uint64_t seed, const DiTOptions& options);
  ~LinearDiT();
  LinearDiT(LinearDiT&&) noexcept;
  LinearDiT& operator=(LinearDiT&&) noexcept;

  const DiTConfig& config() const;
  const TensorMap& weights() const;       // official names, on the model's device and dtype
  int64_t parameter_count() const;

  // Training. set_trainable(true) makes every weight its own leaf tensor that requires grad (a copy,
  // so the checkpoint's tensors are never touched) and derives the per-block views from those leaves
  // at every forward, so gradients of any forward reach weights() and in-place optimizer updates
  // are seen by the next forward. set_trainable(false) detaches them and restores the inference
  // layout; inference is unchanged either way. Run inference under at::NoGradGuard.
  void set_trainable(bool trainable);
  bool trainable() const;
  // The tensors weights() holds, in name order (an optimizer's parameter list).
  std::vector<at::Tensor> parameters() const;

  // Computes the cross-attention K/V of a prompt: caption [B, L, Cc], mask [B, L] (1 valid, 0 pad).
  // `trace` (optional) sees "caption_projection" and "caption_norm".
  CaptionContext encode_caption(const at::Tensor& caption, const at::Tensor& mask,
                                const std::function<void(const std::string&, const at::Tensor&)>& trace = {}) const;

  // A zero state for `batch` sequences of latent grid Hl x Wl (tokens h = Hl/ph, w = Wl/pw).
  WorldState new_state(int64_t batch, int64_t latent_h, int64_t latent_w, StatePolicy policy) const;

  at::Tensor forward(const DiTStep& step, const CaptionContext& caption) const;
  // With a state: the block continues it (commit = true stores the block in it). A look that does
  // not commit may run k times the state's batch: row i reads state row i % batch (the conditional
  // and no-action halves of guidance in one pass). The caption's batch divides B the same way.
  at::Tensor forward(const DiTStep& step, const CaptionContext& caption, WorldState& state, bool commit) const;
  // chunks: latent frames per chunk, summing to T.
  at::Tensor forward_chunked(const DiTStep& step, const CaptionContext& caption, const std::vector<int64_t>& chunks) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  explicit LinearDiT(std::unique_ptr<Impl> impl);
};

// Weights for a config, CPU fp32, official names, deterministic by seed. training_init: biases 0,
// norms 1, temporal conv and action embedder output at zero (a fresh model); otherwise every tensor
// is random and non-zero (tests that must exercise every path).
TensorMap random_dit_weights(const DiTConfig& config, uint64_t seed, bool training_init);

}  // namespace wl
