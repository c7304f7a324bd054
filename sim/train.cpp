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
#include <nlohmann/json.hpp>
#include <ostream>

#include "envs/policies.h"
#include "envs/world.h"
#include "kernels/core/error.h"
#include "kernels/core/hash.h"
#include "model/linear_dit.h"
#include "model/safetensors.h"
#include "model/tensor_io.h"
#include "sim/dataset.h"

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

// [SECTION] clip sources: slot b of step s -> `advance` (action, resulting frame) pairs

struct Clip {
  at::Tensor frames;    // [F, 3, S, S] float in [0, 1]; frame j is what action j made
  at::Tensor actions;   // [F, A]
};

at::Tensor frame_tensor(const uint8_t* rgb, int size) {
  return at::from_blob(const_cast<uint8_t*>(rgb), {size, size, 3}, at::kByte).permute({2, 0, 1}).to(at::kFloat) / 255.0;   // [3, S, S]
}

class ClipSource {
 public:
  virtual ~ClipSource() = default;
  virtual Clip take(int64_t slot, int64_t step) = 0;
  // All slots of a step (independent, so built in parallel): frames [B, F, 3, S, S], actions [B, F, A].
  std::pair<at::Tensor, at::Tensor> batch(int64_t batch, int64_t step) {
    std::vector<Clip> clips(static_cast<size_t>(batch));
    at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) clips[b] = take(b, step);
    });
    std::vector<at::Tensor> f, a;
    for (auto& c : clips) f.push_back(c.frames), a.push_back(c.actions);
    return {at::stack(f), at::stack(a)};
  }
};

// Slot b plays its own stream of episodes with the scripted policy; step s (from 1) takes the
// stream's frames (s-1)*advance + 1 .. s*advance, so where a slot stands is a function of the step
// alone and a resumed run replays at most one episode per slot to get there.
class SimulatedClips final : public ClipSource {
 public:
  SimulatedClips(const TrainOptions& o, int64_t advance, int64_t batch)
      : o_(o), advance_(advance), episode_len_((o.episode_frames + advance - 1) / advance * advance) {
    for (int64_t b = 0; b < batch; ++b) {
      Worker w;
      w.world = make_world(o.world, WorldConfig{o.size, o.size});
      w.policy = make_policy(o.policy.empty() ? policy_names(o.world).front() : o.policy, o.world);
      workers_.push_back(std::move(w));
    }
  }

  Clip take(int64_t slot, int64_t step) override {
    Worker& w = workers_[slot];
    const int64_t g = (step - 1) * advance_, episode = g / episode_len_, q = g % episode_len_;
    if (w.episode != episode || w.position > q) {
      const uint64_t seed = splitmix64(o_.seed * 1000003ull + static_cast<uint64_t>(episode * workers_.size() + slot));
      w.world->reset(seed);
      w.policy->reset(seed);
      w.episode = episode;
      w.position = 0;
    }
    const ActionSpec& spec = w.world->action_spec();
    while (w.position < q) advance_one(w, spec);
    std::vector<at::Tensor> frames, actions;
    for (int64_t j = 0; j < advance_; ++j) {
      std::vector<float> a = advance_one(w, spec);
      actions.push_back(at::tensor(a, at::kFloat));                                 // [A]
      frames.push_back(frame_tensor(w.world->frame().rgb.data(), o_.size));        // [3, S, S]
    }
    return {at::stack(frames), at::stack(actions)};
  }

 private:
  struct Worker {
    std::unique_ptr<World> world;
    std::unique_ptr<Policy> policy;
    int64_t episode = -1, position = 0;   // frames stepped in the current episode
  };
  std::vector<float> advance_one(Worker& w, const ActionSpec& spec) {
    std::vector<float> a = clamp_action(spec, w.policy->next(*w.world));
    w.world->step(a);
    ++w.position;
    return a;
  }
  const TrainOptions& o_;
  int64_t advance_, episode_len_;
  std::vector<Worker> workers_;
};

// A `worldloop dataset` folder (docs/dataset.md): step s, slot b picks an episode and a start q from
// (seed, s, b) and reads frames q+1 .. q+advance and actions q .. q+advance-1 (action t makes frame t+1).
class DatasetClips final : public ClipSource {
 public:
  DatasetClips(const TrainOptions& o, int64_t advance) : o_(o), advance_(advance) {
    const fs::path dir = o.data;
    nlohmann::json d = parse_json(dir / "dataset.json");
    WL_CHECK(d.value("world", "") == o.world, o.data, ": the dataset is of the ", d.value("world", "?"), " world, not ",
             o.world, " (hint: pass --world ", d.value("world", "?"), ")");
    WL_CHECK(d.value("width", 0) == o.size && d.value("height", 0) == o.size, o.data, ": frames are ", d.value("width", 0),
             "x", d.value("height", 0), ", training wants ", o.size, "x", o.size, " (hint: --size ", d.value("width", 0), ")");
    const ActionSpec spec = action_spec_for(o.world);
    std::vector<fs::path> episodes;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && e.path().filename().string().rfind("episode_", 0) == 0) episodes.push_back(e.path());
    std::sort(episodes.begin(), episodes.end());
    for (const auto& ep : episodes) {
      Episode e;
      e.frames_path = (ep / "frames.u8").string();
      std::ifstream in(ep / "actions.jsonl");
      WL_CHECK(in.good(), (ep / "actions.jsonl").string(), ": cannot read");
      for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        nlohmann::json j;
        try {
          j = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& err) {
          WL_FAIL((ep / "actions.jsonl").string(), ": line ", e.actions.size() + 1, " is not JSON: ", err.what());
        }
        std::vector<float> a;
        for (const auto& dim : spec.dims) {
          WL_CHECK(j.contains(dim.name) && j[dim.name].is_number(), (ep / "actions.jsonl").string(), ": line ",
                   e.actions.size() + 1, " has no number \"", dim.name, "\"");
          a.push_back(j[dim.name].get<float>());
        }
        e.actions.push_back(std::move(a));
      }
      const auto bytes = static_cast<int64_t>(fs::file_size(e.frames_path));
      const int64_t frame_bytes = int64_t(o.size) * o.size * 3;
      e.frames = std::min<int64_t>(bytes / frame_bytes, static_cast<int64_t>(e.actions.size()));
      if (e.frames > advance_) episodes_.push_back(std::move(e));
    }
    WL_CHECK(!episodes_.empty(), o.data, ": no finished episode longer than ", advance_,
             " frames (hint: make one with `worldloop dataset --world ", o.world, " --out ", o.data, "`)");
  }

  Clip take(int64_t slot, int64_t step) override {
    const uint64_t r = splitmix64(splitmix64(o_.seed ^ 0x5eedull) ^ static_cast<uint64_t>(step * 65536 + slot));
    const Episode& e = episodes_[r % episodes_.size()];
    const int64_t q = static_cast<int64_t>(splitmix64(r) % static_cast<uint64_t>(e.frames - advance_));
    const int64_t frame_bytes = int64_t(o_.size) * o_.size * 3;
    std::vector<uint8_t> bytes(static_cast<size_t>(advance_ * frame_bytes));
    std::ifstream in(e.frames_path, std::ios::binary);
    in.seekg((q + 1) * frame_bytes);
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    WL_CHECK(in.good(), e.frames_path, ": short read at frame ", q + 1);
    std::vector<at::Tensor> frames, actions;
    for (int64_t j = 0; j < advance_; ++j) {
      frames.push_back(frame_tensor(bytes.data() + j * frame_bytes, o_.size));   // [3, S, S]
      actions.push_back(at::tensor(e.actions[q + j], at::kFloat));                // [A]
    }
    return {at::stack(frames), at::stack(actions)};
  }

 private:
  struct Episode {
    std::string frames_path;
    std::vector<std::vector<float>> actions;
    int64_t frames = 0;
  };
  const TrainOptions& o_;
  int64_t advance_;
  std::vector<Episode> episodes_;
};

std::unique_ptr<ClipSource> make_source(const TrainOptions& o, int64_t advance, int64_t batch) {
  if (!o.data.empty()) return std::make_unique<DatasetClips>(o, advance);
  return std::make_unique<SimulatedClips>(o, advance, batch);
}

// [SECTION] the two stages: a model, its named parameters, one loss per step, its checkpoint files

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::vector<std::string> names() const = 0;       // parameter names, the optimizer's order
  virtual std::vector<at::Tensor> parameters() const = 0;
  virtual at::Tensor loss(int64_t step) = 0;                // a scalar with a graph
  virtual void after_step(int64_t) {}
  virtual void save_model(const fs::path& dir) const = 0;
  virtual std::string describe() const = 0;
};

class AEStage final : public Stage {
 public:
  AEStage(const TrainOptions& o, AutoEncoder ae, at::Device device)
      : o_(o), ae_(std::move(ae)), device_(device), source_(make_source(o, o.frame_stride, o.batch)) {
    ae_.set_trainable(true);
  }
  std::vector<std::string> names() const override { return ae_.parameter_names(); }
  std::vector<at::Tensor> parameters() const override { return ae_.parameters(); }
  std::string describe() const override { return ae_.config().describe(); }

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

class DiTStage final : public Stage {
 public:
  DiTStage(const TrainOptions& o, LinearDiT dit, AutoEncoder ae, at::Device device)
      : o_(o), dit_(std::move(dit)), ae_(std::move(ae)), device_(device), source_(make_source(o, o.clip_frames, o.batch)) {
    dit_.set_trainable(true);
    const int64_t nb = o.clip_frames / o.block_frames;
    chunks_.assign(static_cast<size_t>(nb), o.block_frames);
  }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [name, _] : dit_.weights()) out.push_back(name);
    return out;
  }
  std::vector<at::Tensor> parameters() const override { return dit_.parameters(); }
  std::string describe() const override {
    return str("DiT ", dit_.config().describe());
  }

  at::Tensor loss(int64_t step) override {
    auto [frames, actions] = source_->batch(o_.batch, step);          // [B, F, 3, S, S], [B, F, A]
    const int64_t B = frames.size(0), F = frames.size(1), S = o_.size, nb = F / o_.block_frames;
    at::Tensor x0;
    {
      at::NoGradGuard no_grad;
      at::Tensor z = ae_.encode(frames.view({B * F, 3, S, S}).to(device_));           // [B F, C, h, w]
      x0 = z.view({B, F, z.size(1), z.size(2), z.size(3)}).permute({0, 2, 1, 3, 4}).contiguous();   // [B, C, F, h, w]
    }
    // Diffusion forcing: one noise level per block; context blocks are sometimes clean (what the
    // commit pass sees at inference); the newest block is always noisy.
    at::Generator gen = step_generator(o_.seed, step, 2);
    const double shift = o_.timestep_shift;
    at::Tensor u = at::rand({B, nb}, gen, at::kDouble);                                // [B, nb]
    at::Tensor t = at::round(shift * u / (1 + (shift - 1) * u) * 1000).clamp(1, 1000); // [B, nb]
    at::Tensor clean = at::rand({B, nb}, gen, at::kDouble) < o_.clean_context;          // [B, nb]
    clean.select(1, nb - 1).fill_(false);
    t = at::where(clean, at::zeros_like(t), t).repeat_interleave(o_.block_frames, 1).to(at::kFloat);   // [B, F]
    at::Tensor eps = at::randn(x0.sizes(), gen).to(device_);                           // [B, C, F, h, w]
    at::Tensor sigma = (t / 1000.0).view({B, 1, F, 1, 1}).to(device_);                 // [B, 1, F, 1, 1]
    at::Tensor xt = (1 - sigma) * x0 + sigma * eps;                                      // [B, C, F, h, w]
    at::Tensor caption = at::zeros({1, 1, dit_.config().caption_channels}), mask = at::ones({1, 1});
    CaptionContext ctx = dit_.encode_caption(caption.to(device_), mask.to(device_));
    DiTStep s{xt, t.to(device_), actions.to(device_), 0, {}};
    at::Tensor v = dit_.forward_chunked(s, ctx, chunks_).to(at::kFloat);              // [B, C, F, h, w]
    at::Tensor weight = (sigma > 0).to(at::kFloat).expand_as(v);                       // clean frames carry no target
    return ((v - (eps - x0)).pow(2) * weight).sum() / weight.sum();
  }

  void save_model(const fs::path& dir) const override {
    TensorMap cpu;
    for (const auto& [name, t] : dit_.weights()) cpu[name] = t.detach().to(at::kCPU, at::kFloat);
    save_dit_checkpoint((dir / "model.safetensors").string(), cpu, dit_.config());
    nlohmann::json j = nlohmann::json::parse(config_to_json(dit_.config()));
    const int64_t latent = o_.size / 8;
    j["world"] = {{"name", o_.world},          {"latent_h", latent},         {"latent_w", latent},
                  {"fps", 20},                 {"block_frames", o_.block_frames}, {"state_policy", "global"},
                  {"decoder", "../ae.safetensors"}};
    write_text_atomic(dir / "config.json", j.dump(2) + "\n");
  }

 private:
  const TrainOptions& o_;
  LinearDiT dit_;
  AutoEncoder ae_;
  at::Device device_;
  std::unique_ptr<ClipSource> source_;
  std::vector<int64_t> chunks_;
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
                      {"size", o.size},           {"episode_frames", o.episode_frames}, {"policy", o.policy}};
  if (o.stage == "ae") {
    j["ae_config"] = nlohmann::json::parse(o.ae_config.to_json());
    j["frame_stride"] = o.frame_stride;
    j["latent_noise"] = o.latent_noise;
  } else {
    j["model_size"] = o.model_size;
    j["clip_frames"] = o.clip_frames;
    j["block_frames"] = o.block_frames;
    j["clean_context"] = o.clean_context;
    j["timestep_shift"] = o.timestep_shift;
  }
  return j;
}

TrainOptions checked(TrainOptions o) {
  WL_CHECK(o.stage == "ae" || o.stage == "dit", "train: unknown --stage '", o.stage, "'; the stages are ae and dit");
  action_spec_for(o.world);   // throws naming the known worlds
  if (!o.policy.empty()) make_policy(o.policy, o.world);
  WL_CHECK(!o.out.empty(), "train: --out RUN_DIR is required");
  WL_CHECK(o.stage != "dit" || !o.ae.empty() || (o.resume && fs::exists(fs::path(o.out) / "ae.safetensors")),
           "train --stage dit needs --ae RUN_DIR (a finished `worldloop train --stage ae` run) or --ae FILE.safetensors");
  WL_CHECK(o.steps >= 1, "train: --steps must be at least 1, got ", o.steps);
  if (o.batch == 0) o.batch = o.stage == "ae" ? 16 : 8;
  if (o.lr == 0) o.lr = o.stage == "ae" ? 1e-3 : 3e-4;
  WL_CHECK(o.batch >= 1 && o.batch <= 4096, "train: --batch must be 1..4096, got ", o.batch);
  WL_CHECK(o.lr > 0 && o.lr < 1, "train: --lr must be in (0, 1), got ", o.lr);
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

TrainSummary run_train(const TrainOptions& options, std::ostream& out) {
  const TrainOptions o = checked(options);
  const fs::path run = o.out;
  const at::Device device(o.device);
  const VAEOptions on_device{o.device, false};
  const auto start = std::chrono::steady_clock::now();

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
    if (!o.resume) {
      std::string ae_file = fs::is_directory(o.ae) ? (fs::path(latest_checkpoint(o.ae)) / "model.safetensors").string() : o.ae;
      AECheckpoint check = load_ae_checkpoint(ae_file);   // refuse a bad AE before anything else
      fs::copy_file(ae_file, ae_copy, fs::copy_options::overwrite_existing);
    }
    AutoEncoder ae(load_ae_checkpoint(ae_copy.string()), on_device);
    const int A = action_spec_for(o.world).width();
    LinearDiT dit = o.resume ? LinearDiT(load_dit_checkpoint((fs::path(resumed_from) / "model.safetensors").string()),
                                         DiTOptions{o.device, false})
                             : LinearDiT::random(train_dit_config(o.model_size, static_cast<int>(ae.config().latent_channels), A),
                                                 o.seed, DiTOptions{o.device, false});
    stage = std::make_unique<DiTStage>(o, std::move(dit), std::move(ae), device);
  }

  AdamW optimizer(stage->parameters(), torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
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
    csv << "step,loss,lr,seconds\n";
    for (const auto& r : rows) csv << r << "\n";
  }
  std::ofstream csv(run / "loss.csv", std::ios::app);

  int64_t params = 0;
  for (const auto& p : stage->parameters()) params += p.numel();
  if (o.progress)
    out << "train " << o.stage << ": " << o.world << " " << o.size << "x" << o.size << ", batch " << o.batch << ", "
        << stage->describe() << ", " << params << " trained parameters, " << o.device << ", "
        << (o.resume ? "resuming at step " + std::to_string(step) : std::string("new run")) << " in " << o.out << std::endl;

  TrainSummary summary;
  summary.first_step = step;
  auto save = [&](int64_t at_step) {
    const fs::path final_dir = run / step_name(at_step), tmp = run / (step_name(at_step) + ".tmp");
    fs::remove_all(tmp);
    fs::create_directories(tmp / "train");
    stage->save_model(tmp);
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
  while (step < o.steps) {
    const int64_t s = step + 1;
    const double lr = o.warmup > 0 ? o.lr * std::min(1.0, static_cast<double>(s) / static_cast<double>(o.warmup)) : o.lr;
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    optimizer.zero_grad();
    at::Tensor loss = stage->loss(s);
    const double value = loss.item<double>();
    WL_CHECK(std::isfinite(value), "train ", o.stage, ": the loss is ", value, " at step ", s,
             "; hint: lower --lr, or resume from the last checkpoint with a smaller one");
    loss.backward();
    if (o.clip_grad > 0) torch::nn::utils::clip_grad_norm_(stage->parameters(), o.clip_grad);
    optimizer.step();
    stage->after_step(s);
    step = s;
    summary.losses.push_back(value);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    csv << s << "," << std::setprecision(8) << value << "," << lr << "," << std::setprecision(6) << seconds << "\n";
    ++steps_since_print;
    if (o.progress && (s % o.log_every == 0 || s == o.steps)) {
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_print).count();
      const double rate = steps_since_print / std::max(dt, 1e-9);
      out << "train " << o.stage << ": step " << s << "/" << o.steps << "  loss " << std::setprecision(5) << value << "  lr "
          << lr << "  " << std::setprecision(3) << rate << " steps/s  eta " << (o.steps - s) / std::max(rate, 1e-9) / 60.0
          << " min" << std::endl;
      last_print = std::chrono::steady_clock::now();
      steps_since_print = 0;
    }
    if (s % o.checkpoint_every == 0 || s == o.steps) save(s);
  }
  if (summary.checkpoint.empty()) summary.checkpoint = latest_checkpoint(o.out);   // resumed at or past --steps
  summary.last_step = step;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (o.progress) out << "train " << o.stage << ": done at step " << step << ", checkpoint " << summary.checkpoint << std::endl;
  return summary;
}

}  // namespace wl
