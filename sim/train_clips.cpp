// Training clips (see train_clips.h): the prefetching batch builder, simulated clips and dataset
// clips. Shapes: F frames per clip, S frame size, A action dims.
#include "sim/train_clips.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "envs/policies.h"
#include "envs/world.h"
#include "kernels/core/error.h"
#include "kernels/core/hash.h"
#include "sim/dataset.h"
#include "sim/train.h"

namespace wl {

namespace fs = std::filesystem;

ClipSource::~ClipSource() {
  if (pending_.valid()) pending_.wait();   // the helper thread uses the maker
}

std::pair<ClipMaker::Clip, ClipMaker::Clip> ClipMaker::take_pair(int64_t, int64_t, int64_t) {
  WL_FAIL("counterfactual clips need a simulator that can replay a state with other actions, not a dataset "
          "(hint: drop --data, or --contrast)");
}

ClipSource::ClipSource(std::unique_ptr<ClipMaker> maker, int64_t pair_tail)
    : maker_(std::move(maker)), pair_tail_(pair_tail), threads_(std::max(1, at::get_num_threads())) {}

std::pair<at::Tensor, at::Tensor> ClipSource::build(int64_t batch, int64_t step) {
  std::vector<ClipMaker::Clip> clips(static_cast<size_t>(batch));
  const int64_t jobs = pair_tail_ > 0 ? batch / 2 : batch;
  WL_CHECK(pair_tail_ == 0 || batch % 2 == 0, "counterfactual pairs need an even batch, got ", batch);
  auto job = [&](int64_t j) {
    if (pair_tail_ > 0)
      std::tie(clips[2 * j], clips[2 * j + 1]) = maker_->take_pair(j, step, pair_tail_);
    else
      clips[j] = maker_->take(j, step);
  };
  // Plain threads, slot j on thread j % n: this runs on the prefetch thread, where ATen's
  // parallel_for ran the slots one after another (training waited on the simulators).
  const int64_t n = std::min<int64_t>(threads_, jobs);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  std::vector<std::thread> pool;
  for (int64_t i = 0; i < n; ++i)
    pool.emplace_back([&, i] {
      try {
        for (int64_t j = i; j < jobs; j += n) job(j);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  std::vector<at::Tensor> f, a;
  for (auto& c : clips) f.push_back(c.frames), a.push_back(c.actions);
  return {at::stack(f), at::stack(a)};   // [B, F, 3, S, S], [B, F, A]
}

std::pair<at::Tensor, at::Tensor> ClipSource::batch(int64_t batch, int64_t step) {
  const auto start = std::chrono::steady_clock::now();
  std::pair<at::Tensor, at::Tensor> out;
  if (pending_.valid()) {
    // Always collect a running prefetch first: take() moves simulated worlds forward in step order.
    auto ready = pending_.get();
    if (pending_step_ == step && pending_batch_ == batch) out = std::move(ready);
  }
  if (!out.first.defined()) out = build(batch, step);
  last_wait_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  pending_step_ = step + 1;
  pending_batch_ = batch;
  pending_ = std::async(std::launch::async, [this, batch, next = step + 1] { return build(batch, next); });
  return out;
}

namespace {

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  WL_CHECK(in.good(), path.string(), ": cannot read");
  try {
    return nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
  } catch (const nlohmann::json::exception& e) {
    WL_FAIL(path.string(), ": not valid JSON: ", e.what());
  }
}

at::Tensor frame_tensor(const uint8_t* rgb, int size) {
  return at::from_blob(const_cast<uint8_t*>(rgb), {size, size, 3}, at::kByte).permute({2, 0, 1}).to(at::kFloat) / 255.0;   // [3, S, S]
}

// Slot b plays its own stream of episodes with the scripted policy; step s (from 1) takes the
// stream's frames (s-1)*advance + 1 .. s*advance, so where a slot stands is a function of the step
// alone and a resumed run replays at most one episode per slot to get there.
class SimulatedClips final : public ClipMaker {
 public:
  SimulatedClips(const TrainOptions& o, int64_t advance, int64_t batch)
      : o_(o), advance_(advance), episode_len_((o.episode_frames + advance - 1) / advance * advance) {
    for (int64_t b = 0; b < batch; ++b) {
      Worker w;
      w.world = make_world(o.world, WorldConfig{o.size, o.size});
      const std::vector<std::string> names = policy_names(o.world);
      w.policy = make_policy(o.policy.empty() ? names[b % 2] : o.policy, o.world);
      workers_.push_back(std::move(w));
    }
  }

  Clip take(int64_t slot, int64_t step) override {
    Worker& w = seek(slot, step);
    Clip clip;
    play(*w.world, advance_, [&] { return policy_action(w); }, clip);
    return clip;
  }

  std::pair<Clip, Clip> take_pair(int64_t pair, int64_t step, int64_t tail) override {
    WL_CHECK(tail >= 1 && tail < advance_, "counterfactual tail ", tail, " must be 1..", advance_ - 1, " frames");
    Worker& w = seek(pair, step);
    Clip shared, own, other;
    play(*w.world, advance_ - tail, [&] { return policy_action(w); }, shared);
    std::unique_ptr<World> twin = w.world->clone();
    play(*w.world, tail, [&] { return policy_action(w); }, own);
    const ActionSpec& spec = w.world->action_spec();
    StickyRandomActions random(spec, splitmix64(splitmix64(o_.seed ^ 0xC0A7E2ull) ^ static_cast<uint64_t>(step * 65536 + pair)));
    play(*twin, tail, [&] { return clamp_action(spec, random.next()); }, other);
    auto join = [](const Clip& a, const Clip& b) { return Clip{at::cat({a.frames, b.frames}), at::cat({a.actions, b.actions})}; };
    return {join(shared, own), join(shared, other)};
  }

 private:
  struct Worker {
    std::unique_ptr<World> world;
    std::unique_ptr<Policy> policy;
    int64_t episode = -1, position = 0;   // frames stepped in the current episode
  };

  // The worker of `slot`, stepped to where step `step`'s clip starts.
  Worker& seek(int64_t slot, int64_t step) {
    Worker& w = workers_[slot];
    const int64_t g = (step - 1) * advance_, episode = g / episode_len_, q = g % episode_len_;
    if (w.episode != episode || w.position > q) {
      const uint64_t seed = splitmix64(o_.seed * 1000003ull + static_cast<uint64_t>(episode * workers_.size() + slot));
      w.world->reset(seed);
      w.policy->reset(seed);
      w.episode = episode;
      w.position = 0;
    }
    while (w.position < q) w.world->step(policy_action(w));
    return w;
  }
  std::vector<float> policy_action(Worker& w) {
    ++w.position;
    return clamp_action(w.world->action_spec(), w.policy->next(*w.world));
  }
  // Steps `world` n times with next() and appends each action and the frame it made to `clip`.
  template <typename Next>
  void play(World& world, int64_t n, Next&& next, Clip& clip) {
    std::vector<at::Tensor> frames, actions;
    for (int64_t j = 0; j < n; ++j) {
      std::vector<float> a = next();
      world.step(a);
      actions.push_back(at::tensor(a, at::kFloat));                              // [A]
      frames.push_back(frame_tensor(world.frame().rgb.data(), o_.size));        // [3, S, S]
    }
    clip.frames = at::stack(frames);     // [n, 3, S, S]
    clip.actions = at::stack(actions);   // [n, A]
  }

  const TrainOptions& o_;
  int64_t advance_, episode_len_;
  std::vector<Worker> workers_;
};

// A `worldloop dataset` folder (docs/dataset.md): step s, slot b picks an episode and a start q from
// (seed, s, b) and reads frames q+1 .. q+advance and actions q .. q+advance-1 (action t makes frame t+1).
class DatasetClips final : public ClipMaker {
 public:
  DatasetClips(const TrainOptions& o, int64_t advance) : o_(o), advance_(advance) {
    std::vector<fs::path> parts;
    if (fs::exists(fs::path(o.data) / "dataset.json")) {
      parts.push_back(o.data);
    } else {
      for (const auto& e : fs::directory_iterator(o.data))
        if (e.is_directory() && fs::exists(e.path() / "dataset.json")) parts.push_back(e.path());
      std::sort(parts.begin(), parts.end());
      WL_CHECK(!parts.empty(), o.data, ": has no dataset.json and no subfolder with one (hint: make one with `worldloop "
               "dataset --world ", o.world, " --out ", o.data, "`)");
    }
    std::vector<fs::path> episodes;
    for (const fs::path& dir : parts) {
      nlohmann::json d = read_json(dir / "dataset.json");
      WL_CHECK(d.value("world", "") == o.world, dir.string(), ": the dataset is of the ", d.value("world", "?"), " world, not ",
               o.world, " (hint: pass --world ", d.value("world", "?"), ")");
      WL_CHECK(d.value("width", 0) == o.size && d.value("height", 0) == o.size, dir.string(), ": frames are ",
               d.value("width", 0), "x", d.value("height", 0), ", training wants ", o.size, "x", o.size, " (hint: --size ",
               d.value("width", 0), ")");
      std::vector<fs::path> found;
      for (const auto& e : fs::directory_iterator(dir))
        if (e.is_directory() && e.path().filename().string().rfind("episode_", 0) == 0) found.push_back(e.path());
      std::sort(found.begin(), found.end());
      episodes.insert(episodes.end(), found.begin(), found.end());
    }
    const ActionSpec spec = action_spec_for(o.world);
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


}  // namespace

std::unique_ptr<ClipSource> make_clip_source(const TrainOptions& o, int64_t advance, int64_t batch, int64_t pair_tail) {
  WL_CHECK(pair_tail == 0 || o.data.empty(), "train: counterfactual clips (--contrast) need simulated data; a dataset "
           "cannot replay a state with other actions (hint: drop --data ", o.data, ")");
  if (!o.data.empty()) return std::make_unique<ClipSource>(std::make_unique<DatasetClips>(o, advance), 0);
  // A pair's two rows come from one simulated stream.
  return std::make_unique<ClipSource>(std::make_unique<SimulatedClips>(o, advance, pair_tail > 0 ? batch / 2 : batch),
                                      pair_tail);
}

}  // namespace wl
