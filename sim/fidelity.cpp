// The fidelity view and the simulator context for seeding (see fidelity.h).
#include "sim/fidelity.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "envs/policies.h"
#include "kernels/core/error.h"
#include "render/overlay.h"
#include "sim/branching.h"
#include "sim/dataset.h"
#include "sim/session.h"
#include "sim/world_model.h"

namespace wl {

int latent_row(int64_t k, int64_t F, int64_t T) {
  WL_CHECK(T >= 1 && F >= 1 && k >= 0 && k < F, "latent_row: frame ", k, " of ", F, " made from ", T, " latents");
  const int64_t per_latent = F == T ? 1 : 4;
  return static_cast<int>(std::clamp<int64_t>(T - 1 - (F - 1 - k) / per_latent, 0, T - 1));
}

std::vector<float> rest_action(const ActionSpec& spec) {
  std::vector<float> out;
  for (const ActionDim& d : spec.dims)
    out.push_back(d.kind == ActionKind::Discrete ? std::round(0.5f * (d.min + d.max)) : std::clamp(0.f, d.min, d.max));
  return out;
}

float psnr_db(const at::Tensor& a, const at::Tensor& b) {
  WL_CHECK(a.sizes() == b.sizes(), "psnr: images of different shapes");
  double mse = (a.to(at::kFloat) - b.to(at::kFloat)).pow(2).mean().item<double>();
  if (mse <= 1e-10) return 100.f;
  return static_cast<float>(10.0 * std::log10(1.0 / mse));
}

// [SECTION] FidelityView

FidelityView::FidelityView(const WorldModel& model, uint64_t seed)
    : width_(8 * model.info().latent_w), height_(8 * model.info().latent_h) {
  world_ = make_world(model.info().world, WorldConfig{width_, height_});
  range_ = model.make_decoder()->range();
  reset(seed);
}

FidelityView::~FidelityView() = default;

void FidelityView::reset(uint64_t seed, const ActionTensor& replay) {
  world_->reset(seed);
  for (int t = 1; t < replay.frames; ++t) step(replay.row(t));   // row 0 is the reset frame's
}

void FidelityView::step(const float* action) {
  world_->step(std::span<const float>(action, static_cast<size_t>(world_->action_spec().width())));
}

const Frame& FidelityView::frame() const { return world_->frame(); }

float FidelityView::compose(const Session& session, const VideoBlock& video, int64_t b, int64_t f,
                            const FrameTarget& target) const {
  const Frame& sim = world_->frame();
  at::Tensor model = video.frames.narrow(0, b, 1).narrow(2, f, 1).to(at::kFloat);   // [1, 3, 1, H, W], decoder range
  WL_CHECK(model.size(3) == sim.height && model.size(4) == sim.width, "fidelity view: the model makes ", model.size(4), "x",
           model.size(3), " frames but the simulator ", sim.width, "x", sim.height);
  at::Tensor rgb = at::from_blob(const_cast<uint8_t*>(sim.rgb.data()), {sim.height, sim.width, 3}, at::kByte)
                       .permute({2, 0, 1})
                       .to(at::kFloat);                                                // [3, H, W] in [0, 255]
  // The simulator's pixels in the decoder's range, so one writer packs both halves alike.
  at::Tensor sim_frame = ((rgb - range_.offset) / range_.scale).to(model.device()).view({1, 3, 1, sim.height, sim.width});
  at::Tensor black = at::full({1, 3, 1, target.height, target.width}, -1e6, model.options());
  session.write_frame(VideoBlock{0, black}, 0, 0, target);
  std::array<ViewRect, 2> halves = side_by_side(target.width, target.height);
  write_scaled(session, model, target, halves[0].x, halves[0].y, halves[0].width, halves[0].height);
  write_scaled(session, sim_frame, target, halves[1].x, halves[1].y, halves[1].width, halves[1].height);
  at::Tensor model01 = (model.view({3, sim.height, sim.width}).cpu() * range_.scale + range_.offset).clamp(0, 255) / 255.0;
  return psnr_db(model01, rgb / 255.0);
}

// [SECTION] simulator context

SimulatorContext simulator_context(const std::string& world_name, int width, int height, uint64_t seed, int frames) {
  WL_CHECK(frames >= 1, "simulator context: at least one frame, asked for ", frames);
  std::unique_ptr<World> world = make_world(world_name, WorldConfig{width, height});
  std::unique_ptr<Policy> policy = make_policy(policy_names(world_name).front(), world_name);
  const ActionSpec& spec = world->action_spec();
  SimulatorContext out;
  out.actions = ActionTensor{frames, spec.width(), std::vector<float>(static_cast<size_t>(frames) * spec.width())};
  out.frames = at::empty({1, 3, frames, height, width}, at::kFloat);
  const Frame* frame = &world->reset(seed);
  policy->reset(seed);
  std::vector<float> action = rest_action(spec);
  for (int t = 0; t < frames; ++t) {
    if (t > 0) {
      action = clamp_action(spec, policy->next(*world));
      frame = &world->step(action);
    }
    std::copy(action.begin(), action.end(), out.actions.row(t));
    at::Tensor rgb = at::from_blob(const_cast<uint8_t*>(frame->rgb.data()), {height, width, 3}, at::kByte);
    out.frames[0].select(1, t).copy_(rgb.permute({2, 0, 1}).to(at::kFloat) / 255.0);   // [3, H, W]
  }
  return out;
}

VideoBlock seed_from_simulator(Session& session, const WorldModel& model, uint64_t seed, int frames, SimulatorContext* context) {
  const WorldModelInfo& w = model.info();
  SimulatorContext sim = simulator_context(w.world, 8 * w.latent_w, 8 * w.latent_h, seed, frames);
  VideoBlock video = session.seed(model.encode(sim.frames.to(model.latent_options().device())), {sim.actions});   // [1, C, N, h, w]
  if (context) *context = std::move(sim);
  return video;
}

}  // namespace wl
