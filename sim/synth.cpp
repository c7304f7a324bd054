// `worldloop synth` (see synth.h; the format is in docs/synth.md). Per episode e of this shard:
//   1. reset the robot simulator and the policy with seed hash(seed, e); for t in 0..F-1 record
//      observation.state t, take action t (policy or file; clamped as the world uses it), step;
//   2. video: the simulator's frames (--ground-truth), or a fresh Session of the world model fed
//      the same actions, latent frame k carrying the aggregate of its video frames (Wan/TAEHV: 4k-3..4k and frame 0
//      for k = 0; our autoencoder: frame k), blocks of the world's block_frames until F frames are decoded;
//   3. publish the MP4, then the episode record (length, stats), then the Parquet file, each
//      through a temporary and a rename: an episode is finished when its Parquet file exists.
// At the end (and every 64 episodes) the meta files are rebuilt from every finished episode.
#include "sim/synth.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <cstring>

#include "envs/policies.h"
#include "envs/rng.h"
#include "envs/robot_world.h"
#include "kernels/core/error.h"
#include "kernels/core/log.h"
#include "sim/dataset.h"
#include "sim/lerobot.h"
#include "sim/loop.h"
#include "sim/session.h"
#include "sim/version.h"
#include "sim/view.h"
#include "sim/world_model.h"
#ifdef WL_WITH_RECORDING
#include "render/recorder.h"
#endif

namespace wl {
namespace {

using lerobot::Json;
namespace fs = std::filesystem;

constexpr const char* kFormat = "worldloop-synth";
constexpr int kFormatVersion = 1;
constexpr int kSimFps = 20;          // the simulator steps 1/20 s
constexpr int kMetaEvery = 64;       // episodes between meta rebuilds during a run

uint64_t episode_seed(uint64_t seed, int e) { return hash_coords(seed, e, 0x5359); }

std::string default_task(const SynthOptions& o) {
  if (!o.actions_file.empty()) return "Follow the recorded actions.";
  if (o.policy == "pick_place") return "Pick up a block and stack it on another block.";
  return "Move the gripper about at random.";
}

// [SECTION] Actions from a file: one JSON object per line with the action's named fields

std::vector<std::vector<float>> read_action_file(const std::string& path, const ActionSpec& spec, int frames) {
  const std::string hint = "; hint: one JSON object per line with the fields " + [&] {
    std::string names;
    for (const ActionDim& d : spec.dims) names += (names.empty() ? "" : ", ") + d.name;
    return names;
  }() + " (the actions.jsonl that `worldloop dataset` writes)";
  std::ifstream in(path, std::ios::binary);
  WL_CHECK(in.good(), "--actions ", path, " cannot be read (", std::strerror(errno), ")", hint);
  std::vector<std::vector<float>> rows;
  std::string line;
  for (int number = 1; std::getline(in, line) && static_cast<int>(rows.size()) < frames; ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json j;
    try {
      j = Json::parse(line);
    } catch (const std::exception& e) {
      WL_FAIL("--actions ", path, ":", number, " is not JSON (", e.what(), ")", hint);
    }
    WL_CHECK(j.is_object(), "--actions ", path, ":", number, " is not a JSON object", hint);
    std::vector<float> row;
    for (const ActionDim& d : spec.dims) {
      WL_CHECK(j.contains(d.name) && j[d.name].is_number(), "--actions ", path, ":", number, " has no number '", d.name, "'",
               hint);
      row.push_back(j[d.name].get<float>());
    }
    rows.push_back(clamp_action(spec, std::move(row)));
  }
  WL_CHECK(static_cast<int>(rows.size()) >= frames, "--actions ", path, " holds ", rows.size(), " actions, each episode needs ",
           frames, " (--frames)", hint);
  return rows;
}

// [SECTION] The dataset's identity: meta/worldloop_synth.json

// Everything that changes the dataset's bytes, except the shard (compared separately).
Json identity(const SynthOptions& o, int denoise_steps, const std::string& video, const std::string& model_hash, const std::string& actions_hash,
              const std::string& task, int width, int height, double fps) {
  Json j;
  j["format"] = kFormat;
  j["version"] = kFormatVersion;
  j["world"] = "robot";
  j["video"] = video;
  if (!model_hash.empty()) j["model_hash"] = model_hash;
  j["policy"] = o.actions_file.empty() ? o.policy : "actions_file";
  if (!actions_hash.empty()) j["actions_fnv1a64"] = actions_hash;
  j["episodes"] = o.episodes;
  j["frames"] = o.frames;
  j["seed"] = o.seed;
  j["width"] = width;
  j["height"] = height;
  j["fps"] = fps;
  if (video != "ground-truth") j["denoise_steps"] = denoise_steps;
  j["task"] = task;
  return j;
}

std::string differences(const Json& found, const Json& want) {
  std::string out;
  for (const auto& [key, value] : want.items())
    if (!found.contains(key) || found[key] != value)
      out += str(out.empty() ? "" : ", ", key, " is ", found.contains(key) ? found[key].dump() : "missing", " there, ", value.dump(),
                 " here");
  for (const auto& [key, value] : found.items())
    if (!want.contains(key)) out += str(out.empty() ? "" : ", ", key, " is ", value.dump(), " there, unset here");
  return out;
}

Json read_identity(const fs::path& root) {
  fs::path path = lerobot::identity_path(root);
  try {
    return Json::parse(lerobot::read_file(path));
  } catch (const nlohmann::json::exception& e) {
    WL_FAIL(path.string(), " is not valid JSON (", e.what(), "); hint: this folder's synth bookkeeping was damaged: choose ",
            "another --out");
  }
}

// Creates the identity in a new or empty folder, or checks that the folder's one matches. Throws
// before anything is written when `out` holds something else.
void claim_folder(const fs::path& out, const Json& id, const std::string& flag) {
  const fs::path path = lerobot::identity_path(out);
  if (fs::exists(path)) {
    Json found = read_identity(out);
    std::string diff = differences(found, id);
    WL_CHECK(diff.empty(), flag, " ", out.string(), " holds a different dataset (", diff, "); hint: choose another ", flag,
             ", or repeat that dataset's options to resume it (nothing was written)");
    return;
  }
  if (fs::exists(out)) {
    WL_CHECK(fs::is_directory(out), flag, " ", out.string(), " is a file, not a folder; hint: name a new or empty folder");
    WL_CHECK(fs::is_empty(out), flag, " ", out.string(), " is not empty and has no meta/worldloop_synth.json, so it is not a ",
             "`worldloop synth` dataset; hint: name a new or empty folder (nothing was written)");
  }
  lerobot::write_file_atomic(path, id.dump(2) + "\n");
}

// Removes the temporaries of an episode an earlier run did not finish.
void remove_temporaries(const fs::path& out) {
  std::vector<fs::path> stale;
  for (const auto& entry : fs::recursive_directory_iterator(out))
    if (entry.is_regular_file() && entry.path().extension() == ".tmp") stale.push_back(entry.path());
  for (const fs::path& p : stale) fs::remove(p);
}

// The record of a finished episode, or null when it is not finished (its Parquet file, published
// last, is missing). A finished episode whose record or video is gone was damaged after publishing.
Json finished_record(const fs::path& out, int e, int frames) {
  if (!fs::exists(lerobot::data_path(out, e))) return nullptr;
  const fs::path record = lerobot::record_path(out, e);
  const std::string hint = str("; hint: delete ", lerobot::data_path(out, e).string(), " to have episode ", e, " made again");
  WL_CHECK(fs::exists(record) && fs::exists(lerobot::video_path(out, e)), "episode ", e, " in ", out.string(),
           " has its Parquet file but not its record or video", hint);
  Json r;
  try {
    r = Json::parse(lerobot::read_file(record));
  } catch (const nlohmann::json::exception& ex) {
    WL_FAIL(record.string(), " is not valid JSON (", ex.what(), ")", hint);
  }
  WL_CHECK(r.value("episode_index", -1) == e && r.value("length", -1) == frames && r.contains("stats"), record.string(),
           " does not describe episode ", e, " of ", frames, " frames", hint);
  return r;
}

// [SECTION] Progress: one line on stderr with episodes/s and ETA

class Progress {
 public:
  Progress(bool on, int total) : on_(on), total_(total) {}
  void update(int done, int made) {
    if (!on_) return;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    double rate = made / std::max(seconds, 1e-6);
    int left = total_ - done;
    constexpr int kWidth = 24;
    int filled = total_ > 0 ? kWidth * done / total_ : kWidth;
    std::string eta = made > 0 ? str(static_cast<int64_t>(std::ceil(left / rate)), " s") : std::string("?");
    std::fprintf(stderr, "\rsynth [%s%s] %d/%d episodes, %.2f episodes/s, ETA %s ", std::string(filled, '#').c_str(),
                 std::string(kWidth - filled, '.').c_str(), done, total_, rate, eta.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  void finish() {
    if (shown_) std::fputc('\n', stderr);
    shown_ = false;
  }

 private:
  bool on_;
  int total_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// [SECTION] One episode

struct Context {
  SynthOptions o;
  fs::path out;
  std::string task;
  std::unique_ptr<WorldModel> model;            // null for --ground-truth
  std::vector<std::vector<float>> file_actions; // --actions
  lerobot::Features features;
  int width = 0, height = 0;
  double fps = kSimFps;
  int denoise_steps = 0;                        // the sampler steps in use (the world's when --denoise-steps is 0)
};

#ifdef WL_WITH_RECORDING
// The frames of one episode: into the MP4 and the image statistics, up to F of them.
class VideoSink {
 public:
  VideoSink(const Context& c, const fs::path& path)
      : frames_(c.o.frames), pixels_(c.width * c.height),
        recorder_(RecorderInfo{.path = path.string(),
                               .width = c.width,
                               .height = c.height,
                               .fps = {static_cast<int>(std::lround(c.fps)), 1},
                               .codecs = {"libx264"},   // one encoder everywhere: a resumed run writes the same video
                               .block_when_full = true}) {}
  bool full() const { return pushed_ >= frames_; }
  void push(const FrameTarget& rgba) {
    if (full()) return;
    stats_.add({rgba.pixels, static_cast<size_t>(pixels_) * 4}, pixels_);
    WL_CHECK(recorder_.push(rgba, pushed_), "the video encoder failed: ", recorder_.stats().error);
    ++pushed_;
  }
  const lerobot::ImageStats& finish(const fs::path& path) {
    recorder_.stop();
    int64_t written = recorder_.stats().frames_written;
    WL_CHECK(written == frames_, path.string(), ": the encoder wrote ", written, " of ", frames_, " frames");
    return stats_;
  }

 private:
  int64_t frames_, pushed_ = 0;
  int pixels_;
  lerobot::ImageStats stats_;
  Recorder recorder_;
};

// The world model's video of one episode, driven by the episode's per-frame actions.
void model_video(const Context& c, uint64_t seed, const std::vector<std::vector<float>>& actions, VideoSink& sink) {
  const WorldModel& m = *c.model;
  const ActionSpec& spec = m.action_spec();
  Session session(m, StatePolicy::parse(m.info().state_policy), {seed});
  const SamplerConfig sampler = sampler_for_steps(m.info(), c.denoise_steps);
  const int T = std::max(1, m.info().block_frames), A = spec.width(), F = static_cast<int>(actions.size());
  std::vector<uint8_t> rgba(static_cast<size_t>(c.width) * c.height * 4);
  const FrameTarget target{rgba.data(), c.width, c.height, 4LL * c.width, false};
  for (int64_t k0 = 0; !sink.full(); k0 += T) {
    ActionTensor block{T, A, std::vector<float>(static_cast<size_t>(T) * A)};
    for (int t = 0; t < T; ++t) {
      // Latent frame k holds video frames 4k-3..4k for Wan/TAEHV (frame 0 for k = 0), frame k for our
      // autoencoder; past the episode the last action holds.
      const int64_t k = k0 + t, first = m.info().first_video_frame(k), last = m.info().last_video_frame(k);
      std::vector<std::vector<float>> group;
      for (int64_t f = first; f <= last; ++f) group.push_back(actions[static_cast<size_t>(std::min<int64_t>(f, F - 1))]);
      std::vector<float> row = aggregate_actions(spec, group);
      std::copy(row.begin(), row.end(), block.row(t));
    }
    LatentBlock latents = session.denoise_block({block}, sampler);
    session.commit_state(latents);
    VideoBlock video = session.decode(latents);
    for (int64_t f = 0; f < video.count() && !sink.full(); ++f) {
      session.write_frame(video, 0, f, target);
      sink.push(target);
    }
  }
}
#endif

int64_t make_episode(const Context& c, int e) {
#ifdef WL_WITH_RECORDING
  const uint64_t seed = episode_seed(c.o.seed, e);
  const int F = c.o.frames;
  auto world = make_world("robot", c.model ? WorldConfig{16, 16} : WorldConfig{c.width, c.height});
  auto& robot = dynamic_cast<RobotWorld&>(*world);
  std::unique_ptr<Policy> policy = c.file_actions.empty() ? make_policy(c.o.policy, "robot") : nullptr;
  const ActionSpec& spec = world->action_spec();
  world->reset(seed);
  if (policy) policy->reset(seed);

  const fs::path video_final = lerobot::video_path(c.out, e), video_tmp = video_final.string() + ".tmp";
  fs::create_directories(video_final.parent_path());
  VideoSink sink(c, video_tmp);
  std::vector<uint8_t> rgba(static_cast<size_t>(c.width) * c.height * 4, 255);
  const FrameTarget target{rgba.data(), c.width, c.height, 4LL * c.width, false};

  lerobot::EpisodeColumns columns;
  columns.episode = e;
  columns.first_index = static_cast<int64_t>(e) * F;
  columns.fps = c.fps;
  for (int t = 0; t < F; ++t) {
    auto state = robot.proprio_state();
    columns.states.emplace_back(state.begin(), state.end());
    if (!c.model) {
      write_rgb_to_target(world->frame().rgb, target);
      sink.push(target);
    }
    std::vector<float> action = policy ? clamp_action(spec, policy->next(*world)) : c.file_actions[static_cast<size_t>(t)];
    if (t + 1 < F) world->step(action);
    columns.actions.push_back(std::move(action));
  }
  if (c.model) model_video(c, seed, columns.actions, sink);
  const lerobot::ImageStats& image_stats = sink.finish(video_tmp);
  lerobot::publish(video_tmp, video_final);

  Json record{{"episode_index", e}, {"length", F}, {"seed", seed}, {"stats", lerobot::episode_stats(columns, image_stats)}};
  lerobot::write_file_atomic(lerobot::record_path(c.out, e), record.dump(2) + "\n");
  lerobot::write_episode_parquet(lerobot::data_path(c.out, e), columns, str("worldloop ", kVersion));
  return F;
#else
  (void)c, (void)e;
  WL_FAIL("this build has no recording (FFmpeg), so synth cannot write the episodes' videos; hint: rebuild with "
          "-DWL_RECORDING=ON");
#endif
}

std::map<int, Json> finished_records(const fs::path& out, int episodes, int frames, int shard_index, int shard_count) {
  std::map<int, Json> records;
  for (int e = shard_index; e < episodes; e += shard_count) {
    Json r = finished_record(out, e, frames);
    if (!r.is_null()) records[e] = std::move(r);
  }
  return records;
}

}  // namespace

std::pair<int, int> parse_shard(const std::string& text) {
  int i = -1, n = -1;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  auto r1 = std::from_chars(p, end, i);
  bool ok = r1.ec == std::errc() && r1.ptr < end && *r1.ptr == '/';
  if (ok) {
    auto r2 = std::from_chars(r1.ptr + 1, end, n);
    ok = r2.ec == std::errc() && r2.ptr == end;
  }
  WL_CHECK(ok && n >= 1 && i >= 0 && i < n, "--shard '", text, "' is not i/n with 0 <= i < n; hint: --shard 0/4 makes the ",
           "episodes e with e % 4 == 0 (a Slurm array passes --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)");
  return {i, n};
}

SynthSummary run_synth(const SynthOptions& o) {
  auto start = std::chrono::steady_clock::now();
  // Every check that can refuse the run comes before the first write.
  WL_CHECK(!o.out.empty(), "--out is required: the folder to write the dataset into");
  WL_CHECK(o.episodes >= 1, "--episodes must be at least 1, got ", o.episodes);
  WL_CHECK(o.frames >= 1, "--frames must be at least 1, got ", o.frames);
  WL_CHECK(o.shard_count >= 1 && o.shard_index >= 0 && o.shard_index < o.shard_count, "--shard ", o.shard_index, "/",
           o.shard_count, " is not i/n with 0 <= i < n");
  const int sources = (o.ground_truth ? 1 : 0) + (o.random_tiny ? 1 : 0) + (!o.model_dir.empty() ? 1 : 0) + (!o.world.empty() ? 1 : 0);
  WL_CHECK(sources == 1, "synth needs exactly one video source, got ", sources, "; hint: --model DIR (a world directory), ",
           "--world robot (the shipped one), --random-tiny (random weights, for tests) or --ground-truth (the simulator)");
  WL_CHECK(o.denoise_steps >= 0 && o.denoise_steps <= 50, "--denoise-steps must be within 0..50 (0: the world's), got ",
           o.denoise_steps);
  Context c;
  c.o = o;
  c.out = o.out;
  const ActionSpec spec = robot_action_spec();
  std::string actions_hash;
  if (!o.actions_file.empty()) {
    c.file_actions = read_action_file(o.actions_file, spec, o.frames);
    std::string bytes = lerobot::read_file(o.actions_file);
    actions_hash = hex64(fnv1a({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}));
  } else {
    const auto names = policy_names("robot");
    WL_CHECK(std::find(names.begin(), names.end(), o.policy) != names.end(), "--policy '", o.policy,
             "' is not a robot policy; hint: use ", names.front(), " or ", names.back(),
             ", or --actions FILE.jsonl to replay recorded actions");
  }
  std::string video = "ground-truth", model_hash;
  if (o.ground_truth) {
    WL_CHECK(o.size >= 16 && o.size <= 1024 && o.size % 2 == 0, "--size must be even and within 16..1024, got ", o.size);
    c.width = c.height = o.size;
  } else {
    WorldModelOptions mo{o.device, o.device != "cpu"};
    c.model = o.random_tiny ? WorldModel::random_tiny("robot", 1, mo)
                            : WorldModel::load(o.model_dir.empty() ? o.world : o.model_dir, mo);
    const WorldModelInfo& info = c.model->info();
    WL_CHECK(info.world == "robot", "synth makes robot data, but the model ", o.model_dir.empty() ? o.world : o.model_dir,
             " is a '", info.world, "' world; hint: pass a robot world directory");
    WL_CHECK(std::abs(info.fps - std::round(info.fps)) < 1e-9, "the model's fps ", info.fps, " is not a whole number; ",
             "LeRobot datasets need an integer frame rate");
    if (info.random_weights) WL_LOG_WARN("synth", "random weights: the video shows nothing learnt (", info.label, ")");
    video = o.random_tiny ? "random-tiny" : "model";
    model_hash = c.model->hash_hex();
    c.width = 8 * info.latent_w;
    c.height = 8 * info.latent_h;
    c.fps = info.fps;
    c.denoise_steps = o.denoise_steps > 0 ? o.denoise_steps : info.denoise_steps;
  }
  c.task = o.task.empty() ? default_task(o) : o.task;
  c.features = {spec, {}, c.height, c.width, c.fps, "h264"};
  for (const char* name : RobotWorld::kStateNames) c.features.state_names.push_back(name);

  Json id = identity(o, c.denoise_steps, video, model_hash, actions_hash, c.task, c.width, c.height, c.fps);
  id["shard"] = str(o.shard_index, "/", o.shard_count);
  claim_folder(c.out, id, "--out");
  remove_temporaries(c.out);

  std::map<int, Json> records = finished_records(c.out, o.episodes, o.frames, o.shard_index, o.shard_count);
  SynthSummary summary;
  summary.episodes_kept = static_cast<int>(records.size());
  const int mine = (o.episodes - o.shard_index + o.shard_count - 1) / o.shard_count;
  const bool whole = o.shard_count == 1;   // shards hold no meta files: merge_synth writes them
  Progress progress(o.progress, mine);
  struct LevelGuard {   // the recorder's info lines would break the progress bar's one line
    LogLevel saved = log_level();
    ~LevelGuard() { set_log_level(saved); }
  } level_guard;
  if (o.progress && log_level() == LogLevel::Info) set_log_level(LogLevel::Warn);
  try {
    progress.update(summary.episodes_kept, 0);
    for (int e = o.shard_index; e < o.episodes; e += o.shard_count) {
      if (records.count(e)) continue;
      summary.frames_made += make_episode(c, e);
      records[e] = finished_record(c.out, e, o.frames);
      ++summary.episodes_made;
      if (whole && summary.episodes_made % kMetaEvery == 0) lerobot::write_meta(c.out, c.features, c.task, records);
      progress.update(static_cast<int>(records.size()), summary.episodes_made);
    }
  } catch (...) {
    progress.finish();
    throw;
  }
  progress.finish();
  if (whole)
    lerobot::write_meta(c.out, c.features, c.task, records);
  else
    summary.note = str("shard ", o.shard_index, "/", o.shard_count, " done; when every shard is, join them with `worldloop synth ",
                       "--merge OUT SHARD_DIRS...`");
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

SynthSummary merge_synth(const std::string& out_text, const std::vector<std::string>& shard_dirs) {
  auto start = std::chrono::steady_clock::now();
  WL_CHECK(!shard_dirs.empty(), "--merge needs the shard folders after OUT; hint: worldloop synth --merge OUT shard0 shard1 ...");
  // Read and check every shard before writing anything.
  Json common;
  int count = -1;
  std::map<int, fs::path> by_index;
  for (const std::string& dir : shard_dirs) {
    WL_CHECK(fs::exists(lerobot::identity_path(dir)), "--merge: ", dir, " has no meta/worldloop_synth.json, so it is not a ",
             "`worldloop synth --shard` folder; hint: name the --out folders of the shard runs");
    Json id = read_identity(dir);
    auto [i, n] = parse_shard(id.value("shard", std::string("?")));
    id.erase("shard");
    if (common.is_null()) {
      common = id;
      count = n;
    }
    std::string diff = differences(id, common);
    WL_CHECK(diff.empty(), "--merge: ", dir, " belongs to a different dataset than ", shard_dirs.front(), " (", diff,
             "); hint: merge the shards of one run only");
    WL_CHECK(n == count, "--merge: ", dir, " is shard ", i, "/", n, " but ", shard_dirs.front(), " is one of ", count);
    WL_CHECK(by_index.emplace(i, dir).second, "--merge: ", dir, " and ", by_index[i].string(), " are both shard ", i, "/", n);
  }
  for (int i = 0; i < count; ++i)
    WL_CHECK(by_index.count(i), "--merge: shard ", i, "/", count, " is missing; hint: name every shard's folder");
  const int episodes = common.at("episodes").get<int>(), frames = common.at("frames").get<int>();
  std::map<int, Json> records;
  for (const auto& [i, dir] : by_index) {
    std::map<int, Json> mine = finished_records(dir, episodes, frames, i, count);
    for (int e = i; e < episodes; e += count)
      WL_CHECK(mine.count(e), "--merge: episode ", e, " is not finished in ", dir.string(), "; hint: run shard ", i, "/", count,
               " again with the same options to finish it");
    records.merge(mine);
  }

  const fs::path out(out_text);
  Json id = common;
  id["shard"] = "0/1";
  claim_folder(out, id, "--merge OUT");
  remove_temporaries(out);
  for (const auto& [e, record] : records) {
    const fs::path& dir = by_index.at(e % count);
    // The Parquet file last, as a run publishes it.
    for (auto path : {lerobot::video_path, lerobot::record_path, lerobot::data_path}) {
      fs::path to = path(out, e), tmp = to.string() + ".tmp";
      fs::create_directories(to.parent_path());
      fs::copy_file(path(dir, e), tmp, fs::copy_options::overwrite_existing);
      lerobot::publish(tmp, to);
    }
  }
  lerobot::Features features{robot_action_spec(), {}, common.at("height").get<int>(), common.at("width").get<int>(),
                             common.at("fps").get<double>(), "h264"};
  for (const char* name : RobotWorld::kStateNames) features.state_names.push_back(name);
  lerobot::write_meta(out, features, common.at("task").get<std::string>(), records);
  SynthSummary summary;
  summary.episodes_kept = static_cast<int>(records.size());
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace wl
