// The fidelity view: the ground-truth simulator of the model's world (envs/), same seed, driven by
// the actions the model's frames were made with, shown beside the model with a live PSNR. For our
// tiny worlds, whose models learnt those simulators. Also the simulator context that "reset from
// simulator" seeds a session with (WorldModel::encode + Session::seed).
//   model frame [3, H, W] (VideoBlock row b, frame f) + simulator RGB8 [H, W, 3] -> compose ->
//   FrameTarget: model left, simulator right (side_by_side), PSNR (dB) of the model frame vs the simulator's
// Alignment: frame k of a block of F frames made from T latent rows took row latent_row(k, F, T),
// and, as `worldloop train` pairs them, frame j is what action j made; so each newly shown model
// frame steps the simulator once with its row. Callers: sim/loop.cpp (display thread), tests.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "envs/world.h"
#include "model/vae_common.h"
#include "sim/frame_types.h"

namespace wl {

class Session;
class WorldModel;
struct VideoBlock;

// Which of a block's T action rows made frame k of its F frames: one frame per latent (our
// autoencoder, F = T) or four (TAEHV, Wan2.1: F = 4T, or 4T - 3 in the stream's first block,
// whose first latent makes one frame): frames are aligned to the block's end.
int latent_row(int64_t k, int64_t F, int64_t T);

// The action at rest: binary off, continuous 0 (clamped), discrete at the centre (the null bin).
std::vector<float> rest_action(const ActionSpec& spec);

// Peak signal-to-noise ratio of two RGB images in [0, 1], [3, H, W] each; 100 dB when identical.
float psnr_db(const at::Tensor& a, const at::Tensor& b);

class FidelityView {
 public:
  // The model's world at the model's frame size, reset(seed). Throws wl::Error for a world the
  // simulators do not know.
  FidelityView(const WorldModel& model, uint64_t seed);
  ~FidelityView();
  // A fresh episode from `seed`, then the given actions replayed (rows of [N, A]; for a session
  // seeded from simulator frames, whose context those were).
  void reset(uint64_t seed, const ActionTensor& replay = {});
  void step(const float* action);          // one simulator frame, 1/20 s
  const Frame& frame() const;              // RGB8 [H, W, 3]
  // Model frame (row b, frame f of `video`) on the left and the simulator's frame on the right,
  // both at half size (side_by_side), black elsewhere; returns the PSNR of the full-size model
  // frame against the simulator's.
  float compose(const Session& session, const VideoBlock& video, int64_t b, int64_t f, const FrameTarget& target) const;

 private:
  std::unique_ptr<World> world_;
  PixelRange range_;
  int width_, height_;
};

// N frames of the world's first scripted policy from `seed`: frames [1, 3, N, H, W] in [0, 1] and
// actions [N, A] where row t made frame t (row 0, the reset frame, at rest). What "reset from
// simulator" encodes and seeds a session with.
struct SimulatorContext {
  at::Tensor frames;
  ActionTensor actions;
};
SimulatorContext simulator_context(const std::string& world, int width, int height, uint64_t seed, int frames);

class Session;
class WorldModel;
struct VideoBlock;
// Seeds `session` (one sequence) with `frames` frames of the model's world simulated from `seed`
// (simulator_context, encoded, Session::seed): "reset from simulator", and replay's redo of it.
// Returns the decoded context; `context` (optional) gets the simulator's frames and actions.
VideoBlock seed_from_simulator(Session& session, const WorldModel& model, uint64_t seed, int frames,
                               SimulatorContext* context = nullptr);

}  // namespace wl
