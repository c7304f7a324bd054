// Session: the model side of one play session, B sequences at once (B = 1 when playing, K when
// branching): the WorldState, one NoiseSource per sequence, the decoder's stream and the last few
// latents. Its three verbs are the loop's three model stages, each its own call so each is timed:
//   ActionTensor [T, A] per sequence -> denoise_block -> LatentBlock latents [B, C, T, h, w]
//   LatentBlock -> commit_state (the t = 0 pass adds it to the state; constant memory)
//   LatentBlock -> decode -> VideoBlock frames [B, 3, F, 8h, 8w], F = 4T (4T - 3 for a stream's first)
// Noise is drawn per sequence (row b from noise[b]), so a sequence's numbers never depend on its
// neighbours: branch i of a batch and branch i run alone see the same noise. For B = 1 this draws
// exactly what model/sampler.h's generate_block draws.
// Seeding: seed(latents, actions) commits real frames' latents (WorldModel::encode) as context, so a
// session can start from a simulator's or a recording's frames.
// Branching: fork(K, seeds) repeats every row of a B = 1 session K times, each with its own seed;
// branch(i) takes row i back out as a B = 1 session (continue from a chosen future).
// Not thread-safe: the loop's worker owns it while a block is in flight.
// Callers: sim/loop.cpp (the worker), sim/snapshot.cpp, tests.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/sampler.h"
#include "sim/frame_types.h"
#include "sim/world_model.h"

namespace wl {

// Latent frames kept for re-priming a fresh decoder after a load or fork. The decoder's own
// streaming state is not exported by model/, so a restored stream replays these through a new
// decoder and drops their frames; TAEHV's memory reaches about 6 latents back, so 8 restore it.
inline constexpr int64_t kDecoderContext = 8;

// One denoised block of latents (the "denoise block" -> "commit state" -> "decode" arrows).
struct LatentBlock {
  int64_t first_frame = 0;             // absolute latent frame of latents[:, :, 0]
  at::Tensor latents;                  // [B, C, T, h, w], clean
  std::vector<ActionTensor> actions;   // the [T, A] actions of each sequence it was made with
  bool committed = false;
};

// The decoded pixels of one block.
struct VideoBlock {
  int64_t first_video_frame = 0;       // absolute video frame index of frames[:, :, 0]
  at::Tensor frames;                   // [B, 3, F, H, W] on the decoder's device, range() of the decoder
  int64_t count() const;               // F
};

// Denoise steps -> the world's sampler: on the "longsana" schedule 4 gives {1000, 960, 889, 727};
// any other n in 1..50, and every n on the "uniform" schedule, gives n evenly spaced timesteps from
// 1000 down (1000 * (1 - i / n)) on the world's flow_shift grid.
SamplerConfig sampler_for_steps(const WorldModelInfo& world, int steps);

class Session {
 public:
  // A fresh session: zero state, seeds.size() sequences, noise stream i from (seeds[i], 0).
  Session(const WorldModel& model, StatePolicy policy, std::vector<uint64_t> seeds);
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // [SECTION] the three model stages
  LatentBlock denoise_block(const std::vector<ActionTensor>& actions, const SamplerConfig& sampler);
  void commit_state(LatentBlock& block);
  VideoBlock decode(const LatentBlock& block);
  // Frame f of sequence b as RGBA8 into `target` (a host target takes a CPU copy of the frame).
  // Only reads the decoder's pixel range, so the display thread may call it during a decode.
  void write_frame(const VideoBlock& video, int64_t b, int64_t f, const FrameTarget& target) const;

  // [SECTION] seeding from real frames
  // Commits clean latents [B, C, T, h, w] (WorldModel::encode of real frames) as context exactly as
  // the loop commits its own blocks: in blocks of `block_frames` (0: the world's; the last may be
  // shorter), each through commit_state (the t = 0 pass) with its frames' actions. actions[b] is
  // [T, A] and row t is the action that made latent frame t (as `worldloop train` pairs them). Then
  // decodes them through the decoder's stream, so the next denoise_block and decode continue from
  // them; returns those frames (callers may show or drop them). wl::Error for mismatched shapes.
  VideoBlock seed(const at::Tensor& latents, const std::vector<ActionTensor>& actions, int block_frames = 0);

  // [SECTION] branching
  Session fork(const std::vector<uint64_t>& seeds) const;   // B = 1 -> K = seeds.size()
  Session branch(int64_t i) const;                          // row i alone, B = 1

  // [SECTION] what snapshots read and restore
  const WorldModel& model() const { return *model_; }
  int64_t batch() const;
  const WorldState& state() const;
  WorldState& state();
  std::vector<NoiseSource>& noise() { return noise_; }
  const std::vector<NoiseSource>& noise() const { return noise_; }
  int64_t next_frame() const;                  // absolute latent frame of the next block
  int64_t next_video_frame() const { return next_video_frame_; }
  const at::Tensor& recent_latents() const;    // [B, C, <= kDecoderContext, h, w]; undefined before the first block
  // Replaces the state, noise, counters and recent latents (already checked by the caller), and
  // re-primes a fresh decoder from the latents. Throws only for a caller bug.
  void restore(WorldState state, std::vector<NoiseSource> noise, at::Tensor recent_latents, int64_t next_video_frame);
  int64_t state_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  const WorldModel* model_ = nullptr;
  std::vector<NoiseSource> noise_;
  int64_t next_video_frame_ = 0;
};

}  // namespace wl
