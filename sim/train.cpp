// `worldloop train` (see train.h): the clip sources (simulated or from a dataset), the two stages'
// loss functions, and the loop around them: AdamW, warmup, gradient clipping, loss.csv, progress,
// atomic checkpoints and exact resume. Shapes: B batch, F frames per clip, S frame size, C latent
// channels, h = w = S/8 latent grid, A action dims, nb blocks per clip.
#include "sim/train.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <tuple>
#include <nlohmann/json.hpp>
#include <ostream>

#include "envs/policies.h"
#include "envs/world.h"
#include "kernels/core/error.h"
#include "kernels/core/hash.h"
#include "model/linear_dit.h"
#include "model/sampler.h"
#include "model/safetensors.h"
#include "model/tensor_io.h"
#include "sim/dataset.h"
#include "sim/train_clips.h"

namespace wl {

namespace fs = std::filesystem;

namespace {


// Every random draw of step `step` comes from this generator (stream separates its uses), so a
// resumed run draws exactly what an uninterrupted one would.
at::Generator step_generator(uint64_t seed, int64_t step, uint64_t stream) {
  return at::make_generator<at::CPUGeneratorImpl>(splitmix64(splitmix64(seed) ^ splitmix64(static_cast<uint64_t>(step) * 8 + stream)));
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  WL_CHECK(in.good(), path.string(), ": cannot read");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_text_atomic(const fs::path& path, const std::string& text) {
  fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    WL_CHECK(out.good(), tmp.string(), ": cannot write (disk full or no permission?)");
  }
  fs::rename(tmp, path);
}

nlohmann::json parse_json(const fs::path& path) {
  try {
    return nlohmann::json::parse(read_text(path));
  } catch (const nlohmann::json::exception& e) {
    WL_FAIL(path.string(), ": not valid JSON: ", e.what());
  }
}

// [SECTION] the stages: a model, its named parameters, one loss per step, its checkpoint files

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::vector<std::string> names() const = 0;       // parameter names, the optimizer's order
  virtual std::vector<at::Tensor> parameters() const = 0;
  virtual at::Tensor loss(int64_t step) = 0;                // a scalar with a graph
  virtual void after_step(int64_t) {}
  virtual double data_wait() const = 0;                     // seconds the last loss() waited for data
  virtual void save_model(const fs::path& dir) const = 0;
  virtual std::string describe() const = 0;
};

class AEStage final : public Stage {
 public:
  AEStage(const TrainOptions& o, AutoEncoder ae, at::Device device)
      : o_(o), ae_(std::move(ae)), device_(device), source_(make_clip_source(o, o.frame_stride, o.batch)) {
    ae_.set_trainable(true);
  }
  std::vector<std::string> names() const override { return ae_.parameter_names(); }
  std::vector<at::Tensor> parameters() const override { return ae_.parameters(); }
  std::string describe() const override { return ae_.config().describe(); }
  double data_wait() const override { return source_->last_wait_seconds(); }

  at::Tensor loss(int64_t step) override {
    auto [frames, actions] = source_->batch(o_.batch, step);                         // [B, stride, 3, S, S]
    at::Tensor x = frames.select(1, frames.size(1) - 1).to(device_);                  // [B, 3, S, S]
    at::Generator gen = step_generator(o_.seed, step, 1);
    const int64_t B = x.size(0), C = ae_.config().latent_channels;
    raw_ = ae_.encode_raw(x);                                                         // [B, C, h, w]
    at::Tensor level = (at::rand({B, 1, 1, 1}, gen) * o_.latent_noise).to(device_);  // [B, 1, 1, 1]
    at::Tensor scale = ae_.weights().at("latent_std").view({1, C, 1, 1});
    at::Tensor noise = at::randn(raw_.sizes(), gen).to(device_) * level * scale;     // [B, C, h, w]
    at::Tensor recon = ae_.decode_raw(raw_ + noise);                                  // [B, 3, S, S]
    return at::mse_loss(recon, x);
  }

  // Running latent statistics: the plain average of the first 100 steps, then an EMA.
  void after_step(int64_t step) override {
    at::NoGradGuard no_grad;
    at::Tensor z = raw_.detach().to(at::kFloat).transpose(0, 1).flatten(1);   // [C, B h w]
    const double m = std::max(0.01, 1.0 / static_cast<double>(step));
    at::Tensor mean = ae_.weights().at("latent_mean"), std = ae_.weights().at("latent_std");
    at::Tensor new_mean = mean * (1 - m) + z.mean(1) * m;
    at::Tensor new_std = (std.pow(2) * (1 - m) + z.var(1, /*unbiased=*/false) * m).sqrt().clamp_min(1e-4);
    ae_.set_latent_stats(new_mean, new_std);
    raw_ = at::Tensor();
  }

  void save_model(const fs::path& dir) const override {
    save_ae_checkpoint((dir / "model.safetensors").string(), ae_.weights(), ae_.config());
  }

 private:
  const TrainOptions& o_;
  AutoEncoder ae_;
  at::Device device_;
  std::unique_ptr<ClipSource> source_;
  at::Tensor raw_;   // this step's raw latents, for the statistics
};

// The state play keeps for a world trained on these clips: the context blocks a training clip had,
// so play never leaves what was learnt.
std::string world_state_policy(const TrainOptions& o) {
  const int64_t blocks = o.clip_frames / o.block_frames;
  return blocks > 1 ? str("window:", blocks - 1) : "global";
}

// Stages dit and rollout: the same model, data and files; rollout adds the self-generated clips.
class DiTStage final : public Stage {
 public:
  DiTStage(const TrainOptions& o, LinearDiT dit, AutoEncoder ae, at::Device device)
      : o_(o), dit_(std::move(dit)), ae_(std::move(ae)), device_(device),
        source_(make_clip_source(o, o.rollout_blocks > 0 ? o.rollout_blocks * o.block_frames : o.clip_frames, o.batch,
                                 o.contrast > 0 ? o.contrast_blocks * o.block_frames : 0)) {
    dit_.set_trainable(true);
    const int64_t nb = o.clip_frames / o.block_frames;
    chunks_.assign(static_cast<size_t>(nb), o.block_frames);
    at::Tensor caption = at::zeros({1, 1, dit_.config().caption_channels}), mask = at::ones({1, 1});
    caption_ = caption.to(device_);
    mask_ = mask.to(device_);
    for (int i = 0; i < o.denoise_steps; ++i) timesteps_.push_back(1000.0 * (o.denoise_steps - i) / o.denoise_steps);
  }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [name, _] : dit_.weights()) out.push_back(name);
    return out;
  }
  std::vector<at::Tensor> parameters() const override { return dit_.parameters(); }
  std::string describe() const override { return str("DiT ", dit_.config().describe()); }
  double data_wait() const override { return wait_; }

  at::Tensor loss(int64_t step) override {
    // --reuse R: steps (k-1)R+1 .. kR train on clip batch k; the noise is drawn per step.
    const int64_t data_step = (step - 1) / o_.reuse + 1;
    if (data_step != clips_step_) {
      clips_ = source_->batch(o_.batch, data_step);
      clips_step_ = data_step;
      wait_ = source_->last_wait_seconds();
    } else {
      wait_ = 0.0;
    }
    const auto& [frames, actions] = clips_;                           // [B, F, 3, S, S], [B, F, A]
    const int64_t B = frames.size(0), F = frames.size(1), S = o_.size;
    at::Tensor x0;
    {
      at::NoGradGuard no_grad;
      at::Tensor z = ae_.encode(frames.view({B * F, 3, S, S}).to(device_));           // [B F, C, h, w]
      x0 = z.view({B, F, z.size(1), z.size(2), z.size(3)}).permute({0, 2, 1, 3, 4}).contiguous();   // [B, C, F, h, w]
    }
    at::Tensor a = actions.to(device_);                                                 // [B, F, A]
    CaptionContext ctx = dit_.encode_caption(caption_, mask_);
    // A rollout clip longer than a training clip (--rollout-blocks): the dit loss sees its last clip_frames.
    const int64_t F0 = o_.clip_frames;
    at::Tensor df = F > F0 ? forcing_loss(x0.narrow(2, F - F0, F0), a.narrow(1, F - F0, F0), ctx, step)
                           : forcing_loss(x0, a, ctx, step);
    if (o_.stage == "dit") return df;
    at::Tensor rollout = rollout_loss(x0, a, ctx, step);
    return o_.df_weight > 0 ? rollout + o_.df_weight * df : rollout;
  }

  void save_model(const fs::path& dir) const override {
    TensorMap cpu;
    for (const auto& [name, t] : dit_.weights()) cpu[name] = t.detach().to(at::kCPU, at::kFloat);
    save_dit_checkpoint((dir / "model.safetensors").string(), cpu, dit_.config());
    nlohmann::json j = nlohmann::json::parse(config_to_json(dit_.config()));
    const int64_t latent = o_.size / 8;
    j["world"] = {{"name", o_.world},
                  {"latent_h", latent},
                  {"latent_w", latent},
                  {"fps", 20},
                  {"block_frames", o_.block_frames},
                  {"state_policy", world_state_policy(o_)},
                  {"decoder", "../ae.safetensors"},
                  {"sampler", {{"schedule", "uniform"}, {"flow_shift", o_.timestep_shift}, {"steps", o_.denoise_steps}}}};
    write_text_atomic(dir / "config.json", j.dump(2) + "\n");
  }

 private:
  // Diffusion forcing: one noise level per block; context blocks are sometimes clean (what the
  // commit pass sees at inference); the newest block is always noisy. Counterfactual pairs (see
  // TrainOptions::contrast) draw their levels and noise once per pair.
  at::Tensor forcing_loss(const at::Tensor& x0, const at::Tensor& actions, const CaptionContext& ctx, int64_t step) {
    const int64_t B = x0.size(0), F = x0.size(2), nb = F / o_.block_frames;
    const bool pairs = o_.contrast > 0;
    const int64_t R = pairs ? B / 2 : B;                                                // rows drawn
    auto rows = [&](const at::Tensor& x) { return pairs ? x.repeat_interleave(2, 0) : x; };   // [R, ...] -> [B, ...]
    at::Generator gen = step_generator(o_.seed, step, 2);
    const double shift = o_.timestep_shift;
    at::Tensor u = at::rand({R, nb}, gen, at::kDouble);                                // [R, nb]
    at::Tensor t = at::round(shift * u / (1 + (shift - 1) * u) * 1000).clamp(1, 1000); // [R, nb]
    at::Tensor clean = at::rand({R, nb}, gen, at::kDouble) < o_.clean_context;          // [R, nb]
    clean.select(1, nb - 1).fill_(false);
    t = rows(at::where(clean, at::zeros_like(t), t).repeat_interleave(o_.block_frames, 1).to(at::kFloat));   // [B, F]
    std::vector<int64_t> noise_shape = x0.sizes().vec();
    noise_shape[0] = R;
    at::Tensor eps = rows(at::randn(noise_shape, gen).to(device_));                    // [B, C, F, h, w]
    at::Tensor sigma = (t / 1000.0).view({B, 1, F, 1, 1}).to(device_);                 // [B, 1, F, 1, 1]
    at::Tensor xt = (1 - sigma) * x0 + sigma * eps;                                      // [B, C, F, h, w]
    DiTStep s{xt, t.to(device_), actions, 0, {}};
    if (o_.action_dropout > 0) {   // per block, drawn after the rest so runs without dropout keep their numbers
      at::Tensor keep = (at::rand({R, nb}, gen, at::kDouble) >= o_.action_dropout).to(at::kFloat);   // [R, nb]
      s.action_keep = rows(keep.repeat_interleave(o_.block_frames, 1)).to(device_);                 // [B, F]
    }
    at::Tensor v = dit_.forward_chunked(s, ctx, chunks_).to(at::kFloat);              // [B, C, F, h, w]
    at::Tensor target = eps - x0;
    at::Tensor weight = (sigma > 0).to(at::kFloat).expand_as(v);                       // clean frames carry no target
    at::Tensor loss = ((v - target).pow(2) * weight).sum() / weight.sum();
    if (!pairs) return loss;
    // A pair differs only in its last blocks' actions and what they made, so the difference of its
    // two velocities there must be the difference of its targets: the action's effect, isolated.
    const int64_t tail = o_.contrast_blocks * o_.block_frames;
    auto last = [&](const at::Tensor& x) { return x.narrow(2, F - tail, tail); };
    auto diff = [&](const at::Tensor& x) { return last(x.slice(0, 0, B, 2) - x.slice(0, 1, B, 2)); };   // [R, C, T, h, w]
    return loss + o_.contrast * (diff(v) - diff(target)).pow(2).mean();
  }

  // Self-Forcing style: the clip is generated block by block exactly as play generates it (the
  // world's sampler, fresh noise between steps, the t = 0 commit of the clean block), after zero
  // or one ground-truth block. In each generated block one random sampler step runs with gradient
  // and its x0 estimate is pulled to the simulator's block; the state and the other steps are
  // detached (truncated gradients), so memory stays that of one block.
  at::Tensor rollout_loss(const at::Tensor& x0, const at::Tensor& actions, const CaptionContext& ctx, int64_t step) {
    const int64_t B = x0.size(0), F = x0.size(2), T = o_.block_frames, nb = F / T, n_steps = o_.denoise_steps;
    at::Generator gen = step_generator(o_.seed, step, 3);
    const int64_t truth_blocks = at::randint(0, 2, {1}, gen).item<int64_t>();   // 0 or 1 ground-truth blocks first
    at::Tensor picks = at::randint(0, n_steps, {nb}, gen);                     // the step with gradient, per block
    // Past a training clip's length the state keeps the world's window, as play's does.
    const StatePolicy policy = nb > o_.clip_frames / T ? StatePolicy::parse(world_state_policy(o_)) : StatePolicy{};
    WorldState state = dit_.new_state(B, x0.size(3), x0.size(4), policy);
    const auto options = x0.options();
    at::Tensor total = at::zeros({}, options);
    int64_t terms = 0;
    for (int64_t n = 0; n < nb; ++n) {
      at::Tensor truth = x0.narrow(2, n * T, T);                               // [B, C, T, h, w]
      at::Tensor a = actions.narrow(1, n * T, T);                              // [B, T, A]
      at::Tensor block = truth;
      if (n >= truth_blocks) {
        const int64_t pick = picks[n].item<int64_t>();
        at::Tensor x = at::randn(truth.sizes(), gen).to(device_);              // [B, C, T, h, w]
        for (int64_t i = 0; i < n_steps; ++i) {
          const double t = timesteps_[i], sigma = flow_sigma(t, o_.timestep_shift);
          DiTStep s{x, at::full({B}, t, options), a, n * T, {}};
          at::Tensor estimate;
          if (i == pick) {
            estimate = x - sigma * dit_.forward(s, ctx, state, /*commit=*/false).to(at::kFloat);   // [B, C, T, h, w]
            total = total + at::mse_loss(estimate, truth);
            ++terms;
            estimate = estimate.detach();
          } else {
            at::NoGradGuard no_grad;
            estimate = x - sigma * dit_.forward(s, ctx, state, /*commit=*/false).to(at::kFloat);
          }
          if (i + 1 == n_steps) {
            block = estimate;
          } else {
            const double next = flow_sigma(timesteps_[i + 1], o_.timestep_shift);
            x = (1 - next) * estimate + next * at::randn(truth.sizes(), gen).to(device_);
          }
        }
      }
      at::NoGradGuard no_grad;
      dit_.forward({block, at::zeros({B}, options), a, n * T, {}}, ctx, state, /*commit=*/true);
    }
    return total / static_cast<double>(terms);
  }

  const TrainOptions& o_;
  LinearDiT dit_;
  AutoEncoder ae_;
  at::Device device_;
  std::unique_ptr<ClipSource> source_;
  std::pair<at::Tensor, at::Tensor> clips_;   // the batch of clips of data step clips_step_ (--reuse)
  int64_t clips_step_ = 0;
  double wait_ = 0.0;                         // seconds this step waited for clips
  std::vector<int64_t> chunks_;
  at::Tensor caption_, mask_;       // one zero caption token: the worlds are prompt-free
  std::vector<double> timesteps_;   // the world's sampler: uniform, high to low
};

// [SECTION] optimizer state <-> safetensors, by parameter name

using AdamW = torch::optim::AdamW;

void save_optimizer(const fs::path& path, AdamW& opt, const Stage& stage, int64_t step, uint64_t seed) {
  std::vector<std::pair<std::string, at::Tensor>> list;
  int64_t adam_step = 0;
  const auto names = stage.names();
  const auto params = stage.parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    auto it = opt.state().find(params[i].unsafeGetTensorImpl());
    if (it == opt.state().end()) continue;
    auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
    adam_step = s.step();
    list.emplace_back(names[i] + ".exp_avg", s.exp_avg().detach().to(at::kCPU));
    list.emplace_back(names[i] + ".exp_avg_sq", s.exp_avg_sq().detach().to(at::kCPU));
  }
  save_tensors(path.string(), list, {{"step", std::to_string(step)}, {"adam_step", std::to_string(adam_step)},
                                     {"seed", std::to_string(seed)}});
}

void load_optimizer(const fs::path& path, AdamW& opt, const Stage& stage, int64_t step) {
  SafetensorsFile file = SafetensorsFile::open(path.string());
  auto meta = [&](const char* key) -> int64_t {
    auto it = file.metadata().find(key);
    WL_CHECK(it != file.metadata().end(), path.string(), ": no \"", key, "\" metadata (not written by `worldloop train`?)");
    return std::stoll(it->second);
  };
  WL_CHECK(meta("step") == step, path.string(), ": optimizer state is of step ", meta("step"), ", the model of step ", step);
  const int64_t adam_step = meta("adam_step");
  TensorMap tensors = load_tensors(file);
  const auto names = stage.names();
  const auto params = stage.parameters();
  ShapeMap expected;
  for (size_t i = 0; i < params.size(); ++i)
    expected[names[i] + ".exp_avg"] = expected[names[i] + ".exp_avg_sq"] = params[i].sizes().vec();
  check_tensor_names(tensors, expected, {}, path.string(), "the optimizer state of this model", "the checkpoint is damaged");
  for (size_t i = 0; i < params.size(); ++i) {
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(adam_step);
    s->exp_avg(tensors.at(names[i] + ".exp_avg").to(params[i].options()).clone());
    s->exp_avg_sq(tensors.at(names[i] + ".exp_avg_sq").to(params[i].options()).clone());
    opt.state()[params[i].unsafeGetTensorImpl()] = std::move(s);
  }
}

// [SECTION] run directory

std::string step_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step_%06lld", static_cast<long long>(step));
  return buf;
}

// The fields that decide what a run computes; a resumed run must repeat them.
nlohmann::json recipe(const TrainOptions& o) {
  nlohmann::json j = {{"stage", o.stage},         {"world", o.world},       {"data", o.data},
                      {"batch", o.batch},         {"lr", o.lr},             {"warmup", o.warmup},
                      {"weight_decay", o.weight_decay}, {"clip_grad", o.clip_grad}, {"seed", o.seed},
                      {"size", o.size},           {"episode_frames", o.episode_frames}, {"policy", o.policy},
                      {"ema", o.ema}};
  if (o.stage == "ae") {
    j["ae_config"] = nlohmann::json::parse(o.ae_config.to_json());
    j["frame_stride"] = o.frame_stride;
    j["latent_noise"] = o.latent_noise;
  } else {
    if (o.stage == "rollout") {
      j["df_weight"] = o.df_weight;
      if (o.rollout_blocks != 0) j["rollout_blocks"] = o.rollout_blocks;
    } else {
      j["model_size"] = o.model_size;
    }
    j["init"] = o.init;
    if (o.action_lr_scale != 1.0) j["action_lr_scale"] = o.action_lr_scale;   // absent in runs made before it existed
    if (o.action_dropout != 0.0) j["action_dropout"] = o.action_dropout;
    if (o.contrast != 0.0) j["contrast"] = o.contrast;
    if (o.contrast_blocks != 1) j["contrast_blocks"] = o.contrast_blocks;
    if (o.reuse != 1) j["reuse"] = o.reuse;
    j["denoise_steps"] = o.denoise_steps;
    j["clip_frames"] = o.clip_frames;
    j["block_frames"] = o.block_frames;
    j["clean_context"] = o.clean_context;
    j["timestep_shift"] = o.timestep_shift;
  }
  return j;
}

// --init: a dit or rollout run (its newest checkpoint and its autoencoder copy) or a world directory
// (`worldloop export`: model.safetensors + ae.safetensors) -> {DiT weights file, AE file}.
std::pair<std::string, std::string> init_files(const std::string& init) {
  const fs::path dir = init;
  if (fs::exists(dir / "latest"))
    return {(fs::path(latest_checkpoint(init)) / "model.safetensors").string(), (dir / "ae.safetensors").string()};
  WL_CHECK(fs::exists(dir / "model.safetensors") && fs::exists(dir / "ae.safetensors"), "train --init ", init,
           ": neither a dit/rollout run (no 'latest' file) nor an exported world (model.safetensors + ae.safetensors)");
  return {(dir / "model.safetensors").string(), (dir / "ae.safetensors").string()};
}

TrainOptions checked(TrainOptions o) {
  WL_CHECK(o.stage == "ae" || o.stage == "dit" || o.stage == "rollout", "train: unknown --stage '", o.stage,
           "'; the stages are ae, dit and rollout");
  action_spec_for(o.world);   // throws naming the known worlds
  if (!o.policy.empty()) make_policy(o.policy, o.world);
  WL_CHECK(!o.out.empty(), "train: --out RUN_DIR is required");
  WL_CHECK(o.stage != "dit" || !o.ae.empty() || !o.init.empty() || (o.resume && fs::exists(fs::path(o.out) / "ae.safetensors")),
           "train --stage dit needs --ae RUN_DIR (a finished `worldloop train --stage ae` run) or --ae FILE.safetensors");
  WL_CHECK(o.stage != "rollout" || !o.init.empty(),
           "train --stage rollout needs --init RUN_DIR (a `worldloop train --stage dit` run to start from)");
  WL_CHECK(o.init.empty() || o.stage != "ae", "train --stage ae takes no --init");
  WL_CHECK(o.init.empty() || o.ae.empty(), "train: --init brings its own autoencoder; drop --ae");
  if (!o.init.empty() && !o.resume) init_files(o.init);   // throws naming what is missing
  WL_CHECK(o.steps >= 1, "train: --steps must be at least 1, got ", o.steps);
  if (o.batch == 0) o.batch = o.stage == "ae" ? 16 : 8;
  if (o.lr == 0) o.lr = o.stage == "ae" ? 1e-3 : o.stage == "dit" ? 3e-4 : 1e-4;
  WL_CHECK(o.ema >= 0 && o.ema < 1, "train: --ema must be in [0, 1), got ", o.ema);
  WL_CHECK(o.max_minutes >= 0, "train: --max-minutes must be >= 0, got ", o.max_minutes);
  WL_CHECK(o.denoise_steps >= 1 && o.denoise_steps <= 50, "train: --denoise-steps must be 1..50, got ", o.denoise_steps);
  WL_CHECK(o.df_weight >= 0, "train: --df-weight must be >= 0, got ", o.df_weight);
  WL_CHECK(o.timestep_shift >= 1 && o.timestep_shift <= 100, "train: --timestep-shift must be in [1, 100]");
  WL_CHECK(o.batch >= 1 && o.batch <= 4096, "train: --batch must be 1..4096, got ", o.batch);
  WL_CHECK(o.lr > 0 && o.lr < 1, "train: --lr must be in (0, 1), got ", o.lr);
  WL_CHECK(o.action_lr_scale > 0 && o.action_lr_scale <= 100, "train: --action-lr-scale must be in (0, 100], got ",
           o.action_lr_scale);
  WL_CHECK(o.lr * o.action_lr_scale < 1, "train: --lr times --action-lr-scale must stay below 1, got ",
           o.lr * o.action_lr_scale);
  WL_CHECK(o.action_dropout >= 0 && o.action_dropout < 1, "train: --action-dropout must be in [0, 1), got ", o.action_dropout);
  WL_CHECK(o.contrast >= 0 && o.contrast <= 100, "train: --contrast must be in [0, 100], got ", o.contrast);
  if (o.contrast > 0) {
    WL_CHECK(o.stage != "ae", "train: --contrast is for the dit and rollout stages, not ae");
    WL_CHECK(o.data.empty(), "train: --contrast needs simulated clips (a dataset cannot replay a state with other "
             "actions); drop --data ", o.data);
    WL_CHECK(o.batch % 2 == 0, "train: --contrast pairs the batch's clips, so --batch must be even, got ", o.batch);
    WL_CHECK(o.contrast_blocks >= 1 && o.contrast_blocks * o.block_frames < o.clip_frames, "train: --contrast-blocks ",
             o.contrast_blocks, " must leave a shared context block: 1..", o.clip_frames / o.block_frames - 1,
             " with --clip-frames ", o.clip_frames, " and --block-frames ", o.block_frames);
  }
  WL_CHECK(o.contrast_blocks == 1 || o.contrast > 0, "train: --contrast-blocks is for counterfactual pairs; add --contrast W");
  WL_CHECK(o.reuse >= 1 && o.reuse <= 16, "train: --reuse must be 1..16, got ", o.reuse);
  WL_CHECK(o.rollout_blocks == 0 || o.stage == "rollout", "train: --rollout-blocks is for the rollout stage");
  WL_CHECK(o.rollout_blocks == 0 || (o.rollout_blocks >= o.clip_frames / o.block_frames && o.rollout_blocks <= 64),
           "train: --rollout-blocks must be 0 or ", o.clip_frames / o.block_frames, "..64 (at least a training clip's ",
           "blocks), got ", o.rollout_blocks);
  WL_CHECK(o.reuse == 1 || o.stage != "ae", "train: --reuse is for the dit and rollout stages, not ae");
  WL_CHECK(o.size >= 16 && o.size <= 1024 && o.size % 8 == 0, "train: --size must be a multiple of 8 in 16..1024, got ", o.size);
  WL_CHECK(o.checkpoint_every >= 1 && o.log_every >= 1 && o.warmup >= 0, "train: checkpoint and log intervals must be >= 1");
  WL_CHECK(o.frame_stride >= 1 && o.episode_frames >= 1, "train: --frame-stride and episode length must be >= 1");
  WL_CHECK(o.block_frames >= 1 && o.clip_frames >= o.block_frames && o.clip_frames % o.block_frames == 0,
           "train: --clip-frames (", o.clip_frames, ") must be a positive multiple of --block-frames (", o.block_frames, ")");
  WL_CHECK(o.clean_context >= 0 && o.clean_context < 1, "train: clean_context must be in [0, 1)");
  if (o.stage == "dit") train_dit_config(o.model_size, 1, 1);   // throws naming the sizes
  o.ae_config.validate();
  if (!o.data.empty()) WL_CHECK(fs::is_directory(o.data), "train: --data ", o.data, " is not a directory");
  const fs::path out = o.out;
  if (o.resume) {
    WL_CHECK(fs::exists(out / "latest"), "train --resume: ", o.out, " has no checkpoint to resume (no 'latest' file); "
             "hint: drop --resume to start a new run there");
    nlohmann::json saved = parse_json(out / "run.json");
    const nlohmann::json now = recipe(o);
    for (const auto& [key, value] : now.items())
      WL_CHECK(saved.contains(key) && saved[key] == value, "train --resume: ", (out / "run.json").string(), " has ", key,
               " = ", saved.contains(key) ? saved[key].dump() : "(none)", ", this call ", value.dump(),
               "; hint: resume with the run's own flags");
  } else {
    WL_CHECK(!fs::exists(out) || (fs::is_directory(out) && fs::is_empty(out)), "train: --out ", o.out,
             " already holds files; hint: pass --resume to continue that run, or pick a new folder");
  }
  at::Device device(o.device);
  WL_CHECK(!device.is_cuda() || at::hasCUDA(), "train: --device ", o.device, " asked for, but this build or machine has no CUDA");
  return o;
}

}  // namespace

// [SECTION] public

DiTConfig train_dit_config(const std::string& model_size, int latent_channels, int action_dims) {
  DiTConfig c = dit_preset("tiny");
  if (model_size == "small") {
    c.hidden = 192;
    c.depth = 6;
    c.heads = 3;
    c.head_dim = 64;
    c.ffn_hidden = 480;
  } else {
    WL_CHECK(model_size == "tiny", "train: unknown --model-size '", model_size, "'; the sizes are tiny and small");
  }
  c.name = "custom";
  c.in_channels = c.out_channels = latent_channels;
  c.caption_channels = 8;   // prompt-free worlds: one zero caption token
  c.action_dims = action_dims;
  c.validate();
  return c;
}

std::string latest_checkpoint(const std::string& run_dir) {
  const fs::path latest = fs::path(run_dir) / "latest";
  WL_CHECK(fs::is_regular_file(latest), run_dir, ": no 'latest' file, so no finished checkpoint (hint: train longer than "
           "--checkpoint-every steps, or point at a step_N folder's model.safetensors)");
  std::string name = read_text(latest);
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  const fs::path dir = fs::path(run_dir) / name;
  WL_CHECK(fs::is_directory(dir), (fs::path(run_dir) / "latest").string(), " names ", name, ", which is missing");
  return dir.string();
}

void export_world(const ExportOptions& o, std::ostream& out) {
  WL_CHECK(o.dtype == "f16" || o.dtype == "f32", "export: --dtype must be f16 or f32, got '", o.dtype, "'");
  const fs::path run = o.run, dest = o.out;
  // A run (its newest checkpoint), or an exported world directory (to change its dtype).
  const bool is_run = fs::exists(run / "latest");
  const fs::path checkpoint = is_run ? fs::path(latest_checkpoint(o.run)) : run;
  const auto [model_file, ae_file] = init_files(o.run);
  WL_CHECK(fs::exists(checkpoint / "config.json") && fs::exists(ae_file), o.run,
           ": not a dit or rollout run or a world directory (no config.json or no ae.safetensors); hint: export the run of "
           "`worldloop train --stage dit` or `--stage rollout`");
  WL_CHECK(!fs::exists(dest) || !fs::equivalent(run, dest), "export: --out is the world being exported; pick a new folder");
  if (fs::exists(dest)) {
    WL_CHECK(fs::is_directory(dest), "export: --out ", o.out, " is a file");
    for (const auto& e : fs::directory_iterator(dest)) {
      const std::string name = e.path().filename().string();
      WL_CHECK(name == "config.json" || name == "model.safetensors" || name == "ae.safetensors" || name == "recipe.json" ||
                   name == "README.md" || name == "eval.json",
               "export: --out ", o.out, " holds ", name, ", so it is not an exported world; hint: pick a new folder");
    }
  }
  fs::create_directories(dest);
  const at::ScalarType dtype = o.dtype == "f16" ? at::kHalf : at::kFloat;
  DiTCheckpoint dit = load_dit_checkpoint(model_file);
  TensorMap tensors;
  for (const auto& [name, t] : dit.tensors) tensors[name] = t.to(dtype);
  save_dit_checkpoint((dest / "model.safetensors").string(), tensors, dit.config);
  AECheckpoint ae = load_ae_checkpoint(ae_file);
  save_ae_checkpoint((dest / "ae.safetensors").string(), ae.tensors, ae.config, dtype);
  nlohmann::json config = parse_json(checkpoint / "config.json");
  config["world"]["decoder"] = "ae.safetensors";
  write_text_atomic(dest / "config.json", config.dump(2) + "\n");
  nlohmann::json recipe = is_run ? parse_json(run / "run.json")
                                 : fs::exists(run / "recipe.json") ? parse_json(run / "recipe.json") : nlohmann::json::object();
  if (is_run) recipe["exported_from"] = checkpoint.filename().string();
  write_text_atomic(dest / "recipe.json", recipe.dump(2) + "\n");
  const auto bytes = fs::file_size(dest / "model.safetensors") + fs::file_size(dest / "ae.safetensors");
  out << "export: " << checkpoint.string() << " -> " << o.out << " (" << o.dtype << ", " << std::fixed << std::setprecision(2)
      << static_cast<double>(bytes) / (1 << 20) << " MiB of weights)" << std::defaultfloat << std::endl;
}

TrainSummary run_train(const TrainOptions& options, std::ostream& out) {
  const TrainOptions o = checked(options);
  const fs::path run = o.out;
  const at::Device device(o.device);
  const VAEOptions on_device{o.device, false};
  const auto start = std::chrono::steady_clock::now();
  // Training on the GPU multiplies in TF32 (fp32 sums): the small model's steps are mostly matmuls.
  // Restored on return, for the engine's fp32 paths, which compare with the CPU to 1e-4.
  struct TF32Scope {
    bool blas = at::globalContext().allowTF32CuBLAS(), dnn = at::globalContext().allowTF32CuDNN();
    explicit TF32Scope(bool on) {
      if (on) at::globalContext().setAllowTF32CuBLAS(true), at::globalContext().setAllowTF32CuDNN(true);
    }
    ~TF32Scope() { at::globalContext().setAllowTF32CuBLAS(blas), at::globalContext().setAllowTF32CuDNN(dnn); }
  } tf32(device.is_cuda());

  int64_t step = 0;
  std::string resumed_from;
  if (o.resume) {
    resumed_from = latest_checkpoint(o.out);
    step = std::stoll(fs::path(resumed_from).filename().string().substr(5));
  } else {
    fs::create_directories(run);
    write_text_atomic(run / "run.json", recipe(o).dump(2) + "\n");
  }

  std::unique_ptr<Stage> stage;
  if (o.stage == "ae") {
    AutoEncoder ae = o.resume ? AutoEncoder(load_ae_checkpoint((fs::path(resumed_from) / "model.safetensors").string()), on_device)
                              : AutoEncoder::random(o.ae_config, o.seed, on_device);
    stage = std::make_unique<AEStage>(o, std::move(ae), device);
  } else {
    const fs::path ae_copy = run / "ae.safetensors";
    std::string init_model;   // the weights a new run starts from: none (random), or --init's
    if (!o.resume) {
      std::string ae_file;
      if (!o.init.empty()) {
        std::tie(init_model, ae_file) = init_files(o.init);
      } else {
        ae_file = fs::is_directory(o.ae) ? (fs::path(latest_checkpoint(o.ae)) / "model.safetensors").string() : o.ae;
      }
      AECheckpoint check = load_ae_checkpoint(ae_file);   // refuse a bad AE before anything else
      fs::copy_file(ae_file, ae_copy, fs::copy_options::overwrite_existing);
    }
    AutoEncoder ae(load_ae_checkpoint(ae_copy.string()), on_device);
    const int A = action_spec_for(o.world).width();
    if (o.resume) init_model = (fs::path(resumed_from) / "model.safetensors").string();
    LinearDiT dit = !init_model.empty()
                        ? LinearDiT(load_dit_checkpoint(init_model), DiTOptions{o.device, false})
                        : LinearDiT::random(train_dit_config(o.model_size, static_cast<int>(ae.config().latent_channels), A),
                                            o.seed, DiTOptions{o.device, false});
    WL_CHECK(dit.config().action_dims == A && dit.config().in_channels == ae.config().latent_channels, init_model,
             ": the model takes ", dit.config().action_dims, " action dims and ", dit.config().in_channels,
             " latent channels; the ", o.world, " world and its autoencoder give ", A, " and ", ae.config().latent_channels);
    stage = std::make_unique<DiTStage>(o, std::move(dit), std::move(ae), device);
  }

  // The saved model is the EMA of the weights; the trained weights themselves go to train/raw.
  const std::vector<at::Tensor> params = stage->parameters();
  const std::vector<std::string> names = stage->names();
  std::vector<at::Tensor> ema;
  if (o.ema > 0) {
    at::NoGradGuard no_grad;
    for (const auto& p : params) ema.push_back(p.detach().clone());   // the saved (averaged) weights
    const fs::path raw = fs::path(resumed_from) / "train" / "raw.safetensors";
    if (o.resume) {
      WL_CHECK(fs::exists(raw), raw.string(), ": missing (the checkpoint was saved without --ema, or is damaged)");
      TensorMap saved = load_tensors(SafetensorsFile::open(raw.string()));
      ShapeMap expected;
      for (size_t i = 0; i < params.size(); ++i) expected[names[i]] = params[i].sizes().vec();
      check_tensor_names(saved, expected, {}, raw.string(), "the trained weights of this model", "the checkpoint is damaged");
      for (size_t i = 0; i < params.size(); ++i) params[i].detach().copy_(saved.at(names[i]));
    }
  }

  // Two parameter groups: the action embedder (learning rate scaled by --action-lr-scale) and the rest.
  std::vector<at::Tensor> action_params, other_params;
  for (size_t i = 0; i < params.size(); ++i)
    (names[i].rfind("action_embedder.", 0) == 0 ? action_params : other_params).push_back(params[i]);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(other_params, std::make_unique<torch::optim::AdamWOptions>(
                                        torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay)));
  const bool scaled_group = !action_params.empty();
  if (scaled_group)
    groups.emplace_back(action_params, std::make_unique<torch::optim::AdamWOptions>(
                                           torch::optim::AdamWOptions(o.lr * o.action_lr_scale).weight_decay(o.weight_decay)));
  AdamW optimizer(groups, torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  if (o.resume) load_optimizer(fs::path(resumed_from) / "train" / "optimizer.safetensors", optimizer, *stage, step);

  // loss.csv keeps the rows up to the checkpoint resumed from (later ones are recomputed).
  std::vector<std::string> rows;
  if (o.resume && fs::exists(run / "loss.csv")) {
    std::ifstream in(run / "loss.csv");
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && line[0] != 's' && std::stoll(line) <= step) rows.push_back(line);
  }
  {
    std::ofstream csv(run / "loss.csv", std::ios::trunc);
    csv << "step,loss,lr,seconds,data_wait\n";
    for (const auto& r : rows) csv << r << "\n";
  }
  std::ofstream csv(run / "loss.csv", std::ios::app);

  int64_t parameter_count = 0;
  for (const auto& p : params) parameter_count += p.numel();
  if (o.progress)
    out << "train " << o.stage << ": " << o.world << " " << o.size << "x" << o.size << ", batch " << o.batch << ", "
        << stage->describe() << ", " << parameter_count << " trained parameters, " << o.device << ", "
        << (o.resume ? "resuming at step " + std::to_string(step) : std::string("new run")) << " in " << o.out << std::endl;

  TrainSummary summary;
  summary.first_step = step;
  auto save = [&](int64_t at_step) {
    const fs::path final_dir = run / step_name(at_step), tmp = run / (step_name(at_step) + ".tmp");
    fs::remove_all(tmp);
    fs::create_directories(tmp / "train");
    if (o.ema > 0) {
      // Swap the average in to save it, and keep the trained weights for --resume.
      at::NoGradGuard no_grad;
      std::vector<std::pair<std::string, at::Tensor>> raw;
      for (size_t i = 0; i < params.size(); ++i) raw.emplace_back(names[i], params[i].detach().to(at::kCPU, /*non_blocking=*/false, /*copy=*/true));
      for (size_t i = 0; i < params.size(); ++i) params[i].detach().copy_(ema[i]);
      stage->save_model(tmp);
      for (size_t i = 0; i < params.size(); ++i) params[i].detach().copy_(raw[i].second);
      save_tensors((tmp / "train" / "raw.safetensors").string(), raw, {{"step", std::to_string(at_step)}});
    } else {
      stage->save_model(tmp);
    }
    save_optimizer(tmp / "train" / "optimizer.safetensors", optimizer, *stage, at_step, o.seed);
    fs::remove_all(final_dir);
    fs::rename(tmp, final_dir);
    csv.flush();
    write_text_atomic(run / "latest", step_name(at_step) + "\n");
    // Keep the newest two checkpoints (names sort by step: zero-padded).
    std::vector<fs::path> steps;
    for (const auto& e : fs::directory_iterator(run)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("step_", 0) == 0 && n.find('.') == std::string::npos && e.is_directory()) steps.push_back(e.path());
    }
    std::sort(steps.begin(), steps.end());
    for (size_t i = 0; i + 2 < steps.size(); ++i) fs::remove_all(steps[i]);
    summary.checkpoint = final_dir.string();
  };

  auto last_print = std::chrono::steady_clock::now();
  int64_t steps_since_print = 0;
  double loss_since_print = 0.0, wait_since_print = 0.0;
  while (step < o.steps) {
    const int64_t s = step + 1;
    const double lr = o.warmup > 0 ? o.lr * std::min(1.0, static_cast<double>(s) / static_cast<double>(o.warmup)) : o.lr;
    for (size_t g = 0; g < optimizer.param_groups().size(); ++g)
      static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[g].options())
          .lr(g == 1 && scaled_group ? lr * o.action_lr_scale : lr);
    optimizer.zero_grad();
    at::Tensor loss = stage->loss(s);
    const double value = loss.item<double>();
    WL_CHECK(std::isfinite(value), "train ", o.stage, ": the loss is ", value, " at step ", s,
             "; hint: lower --lr, or resume from the last checkpoint with a smaller one");
    loss.backward();
    if (o.clip_grad > 0) torch::nn::utils::clip_grad_norm_(params, o.clip_grad);
    optimizer.step();
    if (o.ema > 0) {
      // The usual warm-up of the decay, so a short run's average is not its initialisation.
      at::NoGradGuard no_grad;
      const double decay = std::min(o.ema, (1.0 + static_cast<double>(s)) / (10.0 + static_cast<double>(s)));
      for (size_t i = 0; i < params.size(); ++i) ema[i].lerp_(params[i].detach(), 1.0 - decay);
    }
    stage->after_step(s);
    step = s;
    summary.losses.push_back(value);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double wait = stage->data_wait();
    csv << s << "," << std::setprecision(8) << value << "," << lr << "," << std::setprecision(6) << seconds << "," << wait << "\n";
    ++steps_since_print;
    loss_since_print += value;
    wait_since_print += wait;
    const bool out_of_time = o.max_minutes > 0 && seconds > o.max_minutes * 60.0 && s < o.steps;
    if (o.progress && (s % o.log_every == 0 || s == o.steps || out_of_time)) {
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_print).count();
      const double rate = steps_since_print / std::max(dt, 1e-9);
      out << "train " << o.stage << ": step " << s << "/" << o.steps << "  loss " << std::setprecision(5)
          << loss_since_print / steps_since_print << " (mean of " << steps_since_print << ")  lr " << lr << "  "
          << std::setprecision(3) << rate << " steps/s, " << std::setprecision(2) << 100.0 * wait_since_print / std::max(dt, 1e-9)
          << "% waiting for data  eta " << std::setprecision(3) << (o.steps - s) / std::max(rate, 1e-9) / 60.0 << " min"
          << std::endl;
      last_print = std::chrono::steady_clock::now();
      steps_since_print = 0;
      loss_since_print = wait_since_print = 0.0;
    }
    if (s % o.checkpoint_every == 0 || s == o.steps || out_of_time) save(s);
    if (out_of_time) {
      summary.stopped_early = true;
      if (o.progress) out << "train " << o.stage << ": --max-minutes " << o.max_minutes << " reached at step " << s
                          << "; continue with the same flags and --resume" << std::endl;
      break;
    }
  }
  if (summary.checkpoint.empty()) summary.checkpoint = latest_checkpoint(o.out);   // resumed at or past --steps
  summary.last_step = step;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (o.progress) out << "train " << o.stage << ": done at step " << step << ", checkpoint " << summary.checkpoint << std::endl;
  return summary;
}

}  // namespace wl
