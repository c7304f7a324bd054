// The model side of a play session: per-sequence noise, the three model stages, branching
// (see session.h).
#include "sim/session.h"

#include <ATen/ATen.h>

#include <cstring>
#include <functional>
#include <map>

#include "kernels/core/error.h"
#include "model/safetensors.h"

namespace wl {

struct Session::Impl {
  WorldState state;
  std::unique_ptr<VideoDecoder> decoder;
  at::Tensor recent;            // [B, C, <= kDecoderContext, h, w]
  bool decoder_started = false; // the decoder has seen a latent since begin()
  explicit Impl(WorldState s) : state(std::move(s)) {}
};

int64_t VideoBlock::count() const { return frames.defined() ? frames.size(2) : 0; }

SamplerConfig sampler_for_steps(const WorldModelInfo& world, int steps) {
  WL_CHECK(steps >= 1 && steps <= 50, "denoise steps must be 1..50, got ", steps);
  SamplerConfig config;
  config.action_guidance = world.action_guidance;
  config.action_guidance_steps = world.action_guidance_steps;
  if (world.sampler_schedule == "longsana" && steps == 4) return config;   // LongSANA's distilled schedule
  config.flow_shift = world.flow_shift;
  config.timesteps.clear();
  for (int i = 0; i < steps; ++i) config.timesteps.push_back(1000 * (steps - i) / steps);
  return config;
}

Session::Session(const WorldModel& model, StatePolicy policy, std::vector<uint64_t> seeds) : model_(&model) {
  WL_CHECK(!seeds.empty(), "a session needs at least one sequence (one seed)");
  const auto& info = model.info();
  impl_ = std::make_unique<Impl>(model.dit().new_state(static_cast<int64_t>(seeds.size()), info.latent_h, info.latent_w, policy));
  for (uint64_t s : seeds) noise_.emplace_back(s, 0);
  impl_->decoder = model.make_decoder();
  impl_->decoder->begin(batch(), info.latent_h, info.latent_w);
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

int64_t Session::batch() const { return impl_->state.batch(); }
const WorldState& Session::state() const { return impl_->state; }
WorldState& Session::state() { return impl_->state; }
int64_t Session::next_frame() const { return impl_->state.next_frame(); }
const at::Tensor& Session::recent_latents() const { return impl_->recent; }
int64_t Session::state_bytes() const { return impl_->state.size_bytes() + impl_->decoder->state_bytes(); }

// [SECTION] the three model stages

LatentBlock Session::denoise_block(const std::vector<ActionTensor>& actions, const SamplerConfig& sampler) {
  const LinearDiT& dit = model_->dit();
  const DiTConfig& c = dit.config();
  const int64_t B = batch();
  WL_CHECK(static_cast<int64_t>(actions.size()) == B, "denoise block: ", actions.size(), " action streams for ", B,
           " sequences");
  const int64_t T = actions.front().frames;
  WL_CHECK(T >= 1, "denoise block: a block needs at least one latent frame");
  at::Tensor a = at::empty({B, T, c.action_dims}, at::kFloat);   // [B, T, A]
  for (int64_t b = 0; b < B; ++b) {
    const ActionTensor& row = actions[b];
    WL_CHECK(row.frames == T && row.dims == c.action_dims && row.values.size() == static_cast<size_t>(T * row.dims),
             "denoise block: sequence ", b, " has actions [", row.frames, ", ", row.dims, "], the model needs [", T, ", ",
             c.action_dims, "]");
    if (T * row.dims > 0) std::memcpy(a[b].data_ptr<float>(), row.values.data(), row.values.size() * sizeof(float));
  }
  auto options = model_->latent_options();
  at::Tensor model_actions = c.action_dims > 0 ? a.to(options.device()) : at::Tensor();
  const int64_t first = impl_->state.next_frame();
  const int64_t h = impl_->state.grid_h() * c.patch[1], w = impl_->state.grid_w() * c.patch[2];
  // Noise row b from noise_[b] alone: [1, C, T, h, w] each.
  auto draw = [&] {
    std::vector<at::Tensor> rows;
    for (auto& n : noise_) rows.push_back(n.normal({1, c.in_channels, T, h, w}, options));
    return B == 1 ? rows.front() : at::cat(rows, 0);   // [B, C, T, h, w]
  };
  WL_CHECK(!sampler.timesteps.empty(), "sampler needs at least one timestep");
  at::Tensor x = draw();
  at::Tensor clean;
  for (size_t i = 0; i < sampler.timesteps.size(); ++i) {
    double t = sampler.timesteps[i];
    at::Tensor v = guided_velocity(dit, {x, at::full({B}, t, options.dtype(at::kFloat)), model_actions, first},
                                   model_->caption(), impl_->state, sampler.guidance_at(i));   // [B, C, T, h, w]
    at::Tensor x0 = x - flow_sigma(t, sampler.flow_shift) * v;
    if (i + 1 == sampler.timesteps.size()) {
      clean = x0;
      break;
    }
    double next = flow_sigma(sampler.timesteps[i + 1], sampler.flow_shift);
    x = (1.0 - next) * x0 + next * draw();   // fresh noise each step, as model/sampler.cpp
  }
  LatentBlock block;
  block.first_frame = first;
  block.latents = clean;
  block.actions = actions;
  return block;
}

void Session::commit_state(LatentBlock& block) {
  WL_CHECK(!block.committed && block.first_frame == impl_->state.next_frame(), "commit state: block at latent frame ",
           block.first_frame, " does not follow the state (next frame ", impl_->state.next_frame(), ")");
  const DiTConfig& c = model_->dit().config();
  const int64_t B = batch(), T = block.latents.size(2);
  auto options = model_->latent_options();
  at::Tensor a = at::empty({B, T, c.action_dims}, at::kFloat);
  for (int64_t b = 0; b < B; ++b)
    if (c.action_dims > 0) std::memcpy(a[b].data_ptr<float>(), block.actions[b].values.data(), block.actions[b].values.size() * 4);
  at::Tensor model_actions = c.action_dims > 0 ? a.to(options.device()) : at::Tensor();
  model_->dit().forward({block.latents, at::zeros({B}, options.dtype(at::kFloat)), model_actions, block.first_frame},
                        model_->caption(), impl_->state, /*commit=*/true);
  block.committed = true;
  at::Tensor recent = impl_->recent.defined() ? at::cat({impl_->recent, block.latents}, 2) : block.latents;
  const int64_t keep = std::min<int64_t>(kDecoderContext, recent.size(2));
  impl_->recent = recent.narrow(2, recent.size(2) - keep, keep).clone();   // [B, C, <= R, h, w]
}

VideoBlock Session::decode(const LatentBlock& block) {
  VideoBlock video;
  video.first_video_frame = next_video_frame_;
  video.frames = impl_->decoder->decode_next(block.latents);   // [B, 3, F, H, W]
  impl_->decoder_started = true;
  next_video_frame_ += video.count();
  return video;
}

void Session::write_frame(const VideoBlock& video, int64_t b, int64_t f, const FrameTarget& target) const {
  at::Tensor frame = video.frames.narrow(0, b, 1).narrow(2, f, 1);   // [1, 3, 1, H, W]
  if (!target.on_device && !frame.device().is_cpu()) frame = frame.cpu();
  impl_->decoder->write_rgba8(frame, 0, 0, target);
}

// [SECTION] seeding from real frames

VideoBlock Session::seed(const at::Tensor& latents, const std::vector<ActionTensor>& actions, int block_frames) {
  const DiTConfig& c = model_->dit().config();
  const auto& info = model_->info();
  const int64_t B = batch();
  WL_CHECK(latents.defined() && latents.dim() == 5 && latents.size(0) == B && latents.size(1) == c.in_channels &&
               latents.size(2) >= 1 && latents.size(3) == info.latent_h && latents.size(4) == info.latent_w,
           "seed: latents must be [", B, ", ", c.in_channels, ", T, ", info.latent_h, ", ", info.latent_w, "], found ",
           latents.defined() ? shape_string(latents.sizes().vec()) : "an undefined tensor");
  const int64_t T = latents.size(2);
  WL_CHECK(static_cast<int64_t>(actions.size()) == B, "seed: ", actions.size(), " action streams for ", B, " sequences");
  for (int64_t b = 0; b < B; ++b)
    WL_CHECK(actions[b].frames == T && actions[b].dims == c.action_dims &&
                 actions[b].values.size() == static_cast<size_t>(T * c.action_dims),
             "seed: sequence ", b, " has actions [", actions[b].frames, ", ", actions[b].dims, "] for ", T,
             " latent frames; the model needs [", T, ", ", c.action_dims, "] (row t made latent frame t)");
  const int64_t step = block_frames > 0 ? block_frames : info.block_frames;
  at::Tensor clean = latents.to(model_->latent_options());   // [B, C, T, h, w]
  for (int64_t t0 = 0; t0 < T; t0 += step) {
    const int64_t n = std::min(step, T - t0);
    LatentBlock block;
    block.first_frame = impl_->state.next_frame();
    block.latents = clean.narrow(2, t0, n);   // [B, C, n, h, w]
    for (const ActionTensor& a : actions) {
      ActionTensor part{static_cast<int>(n), a.dims, {}};
      part.values.assign(a.values.begin() + t0 * a.dims, a.values.begin() + (t0 + n) * a.dims);
      block.actions.push_back(std::move(part));
    }
    commit_state(block);
  }
  LatentBlock all;
  all.latents = clean;
  return decode(all);
}

// [SECTION] branching and restoring

namespace {

// Every state tensor with its batch rows transformed by `rows` (counters, 0-dim, pass through).
WorldState reshape_state(const WorldModel& model, const WorldState& from, int64_t batch,
                         const std::function<at::Tensor(const at::Tensor&)>& rows) {
  std::map<std::string, at::Tensor> tensors = from.to_tensors();
  for (auto& [name, t] : tensors)
    if (t.dim() >= 3) t = rows(t);   // S, z, conv and the rings lead with B; counters are [1]
  const DiTConfig& c = model.dit().config();
  WorldState out = model.dit().new_state(batch, from.grid_h() * c.patch[1], from.grid_w() * c.patch[2], from.policy());
  out.load_tensors(tensors, "branch");
  return out;
}

}  // namespace

Session Session::fork(const std::vector<uint64_t>& seeds) const {
  WL_CHECK(batch() == 1, "fork: only a single sequence can be forked (this session has ", batch(), ")");
  const int64_t K = static_cast<int64_t>(seeds.size());
  WL_CHECK(K >= 1 && K <= 64, "fork: 1..64 branches, asked for ", K);
  Session out(*model_, impl_->state.policy(), seeds);
  auto repeat = [K](const at::Tensor& t) {
    std::vector<int64_t> times(t.dim(), 1);
    times[0] = K;
    return t.repeat(times);
  };
  WorldState state = reshape_state(*model_, impl_->state, K, repeat);
  std::vector<NoiseSource> noise;
  for (uint64_t s : seeds) noise.emplace_back(s, noise_.front().counter());
  out.restore(std::move(state), std::move(noise), impl_->recent.defined() ? repeat(impl_->recent) : at::Tensor(),
              next_video_frame_);
  return out;
}

Session Session::branch(int64_t i) const {
  WL_CHECK(i >= 0 && i < batch(), "branch ", i, " does not exist (", batch(), " branches)");
  Session out(*model_, impl_->state.policy(), {noise_[i].seed()});
  auto row = [i](const at::Tensor& t) { return t.narrow(0, i, 1).clone(); };
  WorldState state = reshape_state(*model_, impl_->state, 1, row);
  out.restore(std::move(state), {noise_[i]}, impl_->recent.defined() ? row(impl_->recent) : at::Tensor(), next_video_frame_);
  return out;
}

void Session::restore(WorldState state, std::vector<NoiseSource> noise, at::Tensor recent, int64_t next_video_frame) {
  WL_CHECK(static_cast<int64_t>(noise.size()) == state.batch(), "restore: ", noise.size(), " noise streams for batch ",
           state.batch());
  const auto& info = model_->info();
  auto decoder = model_->make_decoder();
  decoder->begin(state.batch(), info.latent_h, info.latent_w);
  if (recent.defined() && recent.size(2) > 0) decoder->decode_next(recent.to(model_->latent_options()));   // re-prime; frames dropped
  impl_->state = std::move(state);
  impl_->decoder = std::move(decoder);
  impl_->recent = recent;
  impl_->decoder_started = recent.defined();
  noise_ = std::move(noise);
  next_video_frame_ = next_video_frame;
}

}  // namespace wl
