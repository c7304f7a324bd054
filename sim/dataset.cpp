// `worldloop dataset` (see dataset.h; the format is in docs/dataset.md). One episode at a time:
// reset world and policy with the episode's seed, then per frame t write frame t to the shard, ask
// the policy for action t, write it, and step. Everything goes into DIR/.episode_NNNNNN.tmp/, each
// file is flushed to disk, and the folder is renamed to DIR/episode_NNNNNN/ only when complete.
#include "sim/dataset.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "envs/action_log.h"
#include "envs/policies.h"
#include "envs/vpt_actions.h"
#include "envs/world.h"
#include "kernels/core/error.h"
#include "kernels/core/log.h"
#include "sim/version.h"
#include "sim/view.h"
#ifdef WL_WITH_RECORDING
#include "render/recorder.h"
#endif

namespace wl {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr const char* kDatasetFormat = "worldloop-dataset";
constexpr const char* kEpisodeFormat = "worldloop-dataset-episode";
constexpr int kFormatVersion = 1;
constexpr int kFps = 20;   // the worlds step 1/20 s per frame

std::string hex64(uint64_t v) {
  char buffer[19];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(v));
  return buffer;
}

std::string episode_name(int episode) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "episode_%06d", episode);
  return buffer;
}

// [SECTION] Files flushed to disk before the rename that publishes them

// A file written with POSIX calls so that close() can fsync: after a crash, a renamed episode
// folder holds complete files, not zero-length ones the kernel had not written back yet.
class SyncedFile {
 public:
  explicit SyncedFile(fs::path path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    WL_CHECK(fd_ >= 0, "cannot create ", path_.string(), ": ", std::strerror(errno));
  }
  ~SyncedFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  SyncedFile(const SyncedFile&) = delete;
  SyncedFile& operator=(const SyncedFile&) = delete;

  void write(std::span<const uint8_t> bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      WL_CHECK(n > 0, "cannot write ", path_.string(), ": ", std::strerror(errno), "; hint: is the disk full?");
      bytes = bytes.subspan(static_cast<size_t>(n));
    }
  }
  void write(const std::string& text) { write({reinterpret_cast<const uint8_t*>(text.data()), text.size()}); }
  void close() {
    WL_CHECK(::fsync(fd_) == 0, "cannot flush ", path_.string(), ": ", std::strerror(errno));
    int fd = fd_;
    fd_ = -1;
    WL_CHECK(::close(fd) == 0, "cannot close ", path_.string(), ": ", std::strerror(errno));
  }

 private:
  fs::path path_;
  int fd_ = -1;
};

void sync_path(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;   // best effort: some file systems refuse directories
  ::fsync(fd);
  ::close(fd);
}

void write_text_synced(const fs::path& path, const std::string& text) {
  SyncedFile file(path);
  file.write(text);
  file.close();
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// [SECTION] The dataset's identity: dataset.json, and the check that --out holds the same one

Json dataset_header(const DatasetOptions& o, const std::string& policy) {
  Json j;
  j["format"] = kDatasetFormat;
  j["version"] = kFormatVersion;
  j["world"] = o.world;
  j["policy"] = policy;
  j["width"] = o.size;
  j["height"] = o.size;
  j["fps"] = kFps;
  j["frames_per_episode"] = o.frames;
  j["seed"] = o.seed;
  return j;
}

std::string describe(const Json& h) {
  auto field = [&](const char* key) { return h.contains(key) ? h[key].dump() : std::string("?"); };
  return str(field("world"), " with policy ", field("policy"), ", ", field("width"), "x", field("height"), ", ",
             field("frames_per_episode"), " frames per episode, seed ", field("seed"));
}

// Creates dataset.json in a new or empty folder, or checks that the folder's one matches. Throws
// before anything is written when --out holds something else.
void claim_folder(const fs::path& out, const Json& header) {
  fs::path path = out / "dataset.json";
  const char* hint = "; hint: choose another --out, or repeat that dataset's options to resume or extend it";
  if (fs::exists(path)) {
    Json found;
    try {
      found = Json::parse(read_text(path));
    } catch (const std::exception& e) {
      WL_FAIL(path.string(), " is not valid JSON (", e.what(), ")", hint);
    }
    for (const char* key : {"format", "version", "world", "policy", "width", "height", "fps", "frames_per_episode", "seed"})
      WL_CHECK(found.contains(key) && found[key] == header[key], out.string(), " holds a different dataset: its '", key,
               "' is ", found.contains(key) ? found[key].dump() : "missing", ", asked for ", header[key].dump(), " (it has ",
               describe(found), ")", hint);
    return;
  }
  if (fs::exists(out)) {
    WL_CHECK(fs::is_directory(out), "--out ", out.string(), " is a file, not a folder; hint: name a new or empty folder");
    WL_CHECK(fs::is_empty(out), "--out ", out.string(), " is not empty and has no dataset.json, so it is not a worldloop ",
             "dataset; hint: name a new or empty folder (nothing was written)");
  } else {
    std::error_code ec;
    fs::create_directories(out, ec);
    WL_CHECK(!ec, "cannot create --out ", out.string(), ": ", ec.message());
  }
  fs::path tmp = out / ".dataset.json.tmp";
  write_text_synced(tmp, header.dump(2) + "\n");
  fs::rename(tmp, path);
  sync_path(out);
}

// True when episode `e` is finished: its manifest parses, belongs to this dataset and its shard
// has the size the manifest states. A folder that fails this was damaged after it was published,
// which this tool never does, so it is reported rather than overwritten.
bool episode_finished(const fs::path& dir, const Json& header, int episode) {
  if (!fs::exists(dir)) return false;
  fs::path manifest_path = dir / "manifest.json";
  const std::string hint = "; hint: delete " + dir.string() + " and run again to have it made anew";
  WL_CHECK(fs::exists(manifest_path), dir.string(), " has no manifest.json", hint);
  Json m;
  try {
    m = Json::parse(read_text(manifest_path));
  } catch (const std::exception& e) {
    WL_FAIL(manifest_path.string(), " is not valid JSON (", e.what(), ")", hint);
  }
  bool ok = m.value("format", "") == kEpisodeFormat && m.value("episode", -1) == episode;
  for (const char* key : {"world", "policy", "width", "height", "fps"}) ok = ok && m.contains(key) && m[key] == header[key];
  ok = ok && m.value("frames", -1) == header["frames_per_episode"].get<int>();
  WL_CHECK(ok, manifest_path.string(), " does not describe episode ", episode, " of this dataset (", describe(header), ")",
           hint);
  uint64_t want = static_cast<uint64_t>(header["frames_per_episode"].get<int>()) * header["width"].get<int>() *
                  header["height"].get<int>() * 3;
  std::error_code ec;
  uint64_t have = fs::file_size(dir / "frames.u8", ec);
  WL_CHECK(!ec && have == want, (dir / "frames.u8").string(), " has ", ec ? 0 : have, " bytes, the manifest says ", want,
           hint);
  return true;
}

// [SECTION] Actions as text

// The shortest decimal that reads back as the same float (0.3f prints as 0.3, not 0.30000001192...).
double as_short_double(float v) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  return ec == std::errc() ? std::strtod(std::string(buffer, end).c_str(), nullptr) : static_cast<double>(v);
}

// [SECTION] Progress: one line on stderr, redrawn with \r

class Progress {
 public:
  Progress(bool on, const DatasetOptions& o) : on_(on), options_(o) {}
  void update(int episodes_done, int frame, int64_t frames_made, bool force = false) {
    if (!on_) return;
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    double seconds = std::chrono::duration<double>(now - start_).count();
    constexpr int kWidth = 24;
    double done = (episodes_done + static_cast<double>(frame) / options_.frames) / options_.episodes;
    int filled = std::clamp(static_cast<int>(done * kWidth), 0, kWidth);
    std::fprintf(stderr, "\rdataset %s [%s%s] %d/%d episodes, frame %d/%d, %.0f frames/s ", options_.world.c_str(),
                 std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(), episodes_done,
                 options_.episodes, frame, options_.frames, frames_made / std::max(seconds, 1e-6));
    std::fflush(stderr);
    shown_ = true;
  }
  // Ends the line, so that what follows (a summary or an error) starts on its own.
  void finish() {
    if (shown_) std::fputc('\n', stderr);
    shown_ = false;
  }

 private:
  bool on_;
  const DatasetOptions& options_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

// [SECTION] One episode

struct EpisodeResult {
  Json files;                       // the manifest's "files" object
  std::vector<std::string> frame_checksums;
};

EpisodeResult write_episode(const DatasetOptions& o, const std::string& policy_name, int episode, const fs::path& dir,
                            Progress& progress, int episodes_done, int64_t& frames_made) {
  const uint64_t seed = o.seed + static_cast<uint64_t>(episode);
  std::unique_ptr<World> world = make_world(o.world, WorldConfig{o.size, o.size});
  std::unique_ptr<Policy> policy = make_policy(policy_name, o.world);
  const ActionSpec& spec = world->action_spec();
  const Frame* frame = &world->reset(seed);
  policy->reset(seed);

  SyncedFile shard(dir / "frames.u8");
  SyncedFile actions(dir / "actions.jsonl");
  std::vector<VptAction> vpt;
#ifdef WL_WITH_RECORDING
  std::unique_ptr<Recorder> recorder;
  // Offline: every frame counts, so push() waits for the encoder instead of dropping.
  RecorderInfo record_info{
      .path = (dir / "video.mp4").string(), .width = o.size, .height = o.size, .fps = {kFps, 1}, .block_when_full = true};
  if (o.video) recorder = std::make_unique<Recorder>(record_info);
  std::vector<uint8_t> rgba(static_cast<size_t>(o.size) * o.size * 4, 255);
#endif

  EpisodeResult result;
  uint64_t shard_hash = kFnvOffset, actions_hash = kFnvOffset;
  for (int t = 0; t < o.frames; ++t) {
    shard.write(frame->rgb);
    shard_hash = fnv1a(frame->rgb, shard_hash);
    result.frame_checksums.push_back(hex64(fnv1a(frame->rgb)));
#ifdef WL_WITH_RECORDING
    if (recorder) {
      FrameTarget target{rgba.data(), o.size, o.size, 4LL * o.size, false};
      write_rgb_to_target(frame->rgb, target);
      WL_CHECK(recorder->push(target, t), record_info.path, ": the encoder failed: ", recorder->stats().error);
    }
#endif
    std::vector<float> action = clamp_action(spec, policy->next(*world));
    std::string line = action_json_line(spec, t, action) + "\n";
    actions.write(line);
    actions_hash = fnv1a({reinterpret_cast<const uint8_t*>(line.data()), line.size()}, actions_hash);
    if (o.world == "voxel") vpt.push_back(vpt_from_vector(action));
    // Action t is taken at frame t; the step after the last stored frame would be thrown away.
    if (t + 1 < o.frames) frame = &world->step(action);
    ++frames_made;
    progress.update(episodes_done, t + 1, frames_made);
  }
  shard.close();
  actions.close();

  const uint64_t shard_bytes = static_cast<uint64_t>(o.frames) * o.size * o.size * 3;
  result.files["frames"] = {{"path", "frames.u8"},          {"dtype", "uint8"},
                            {"shape", {o.frames, o.size, o.size, 3}}, {"layout", "FHWC, RGB"},
                            {"bytes", shard_bytes},         {"fnv1a64", hex64(shard_hash)}};
  result.files["actions"] = {{"path", "actions.jsonl"}, {"lines", o.frames}, {"fnv1a64", hex64(actions_hash)}};
  if (!vpt.empty()) {
    write_vpt_jsonl((dir / "actions.vpt.jsonl").string(), vpt);
    sync_path(dir / "actions.vpt.jsonl");
    result.files["vpt_actions"] = {{"path", "actions.vpt.jsonl"}, {"lines", vpt.size()}};
  }
#ifdef WL_WITH_RECORDING
  if (recorder) {
    recorder->stop();
    RecorderStats stats = recorder->stats();
    WL_CHECK(stats.frames_written == o.frames, (dir / "video.mp4").string(), ": the encoder wrote ", stats.frames_written,
             " of ", o.frames, " frames", stats.error.empty() ? "" : " (", stats.error, stats.error.empty() ? "" : ")");
    sync_path(dir / "video.mp4");
    result.files["video"] = {{"path", "video.mp4"}, {"frames", stats.frames_written}, {"fps", kFps},
                             {"encoder", stats.encoder}};
  }
#endif
  return result;
}

Json action_dims_json(const ActionSpec& spec) {
  Json dims = Json::array();
  for (const ActionDim& d : spec.dims) {
    const char* kind = d.kind == ActionKind::Binary ? "binary" : d.kind == ActionKind::Discrete ? "discrete" : "continuous";
    Json dim = {{"name", d.name}, {"kind", kind}, {"min", as_short_double(d.min)}, {"max", as_short_double(d.max)}};
    if (!d.labels.empty()) dim["labels"] = d.labels;
    dims.push_back(dim);
  }
  return dims;
}

}  // namespace

std::vector<float> clamp_action(const ActionSpec& spec, std::vector<float> action) {
  WL_CHECK(static_cast<int>(action.size()) == spec.width(), "an action of ", action.size(), " values; the ", spec.world,
           " world takes ", spec.width());
  for (int a = 0; a < spec.width(); ++a) {
    const ActionDim& d = spec.dims[a];
    WL_CHECK(!std::isnan(action[a]), "NaN for action '", d.name, "' of the ", spec.world, " world");
    action[a] = std::clamp(action[a], d.min, d.max);
    if (d.kind != ActionKind::Continuous) action[a] = std::round(action[a]);
  }
  return action;
}

std::string action_json_line(const ActionSpec& spec, int64_t frame, std::span<const float> action) {
  WL_CHECK(static_cast<int>(action.size()) == spec.width(), "action of ", action.size(), " values for a ", spec.width(),
           "-D ", spec.world, " action space");
  Json j;
  j["frame"] = frame;
  for (int a = 0; a < spec.width(); ++a) {
    if (spec.dims[a].kind == ActionKind::Continuous)
      j[spec.dims[a].name] = as_short_double(action[a]);
    else
      j[spec.dims[a].name] = static_cast<int64_t>(std::lround(action[a]));
  }
  return j.dump();
}

DatasetSummary run_dataset(const DatasetOptions& o) {
  auto start = std::chrono::steady_clock::now();
  // Every check that can refuse the run comes before the first write.
  WL_CHECK(!o.out.empty(), "--out is required: the folder to write the dataset into");
  WL_CHECK(o.episodes >= 1, "--episodes must be at least 1, got ", o.episodes);
  WL_CHECK(o.frames >= 1, "--frames must be at least 1, got ", o.frames);
  WL_CHECK(o.size >= 16 && o.size <= 1024 && o.size % 2 == 0, "--size must be even and within 16..1024, got ", o.size,
           "; hint: the worlds' default is 128 (the MP4's YUV 4:2:0 needs even sizes)");
#ifndef WL_WITH_RECORDING
  WL_CHECK(!o.video, "this build has no recording (FFmpeg), so it cannot write the episodes' video.mp4; hint: pass "
           "--no-video, or rebuild with -DWL_RECORDING=ON");
#endif
  std::unique_ptr<World> probe = make_world(o.world, WorldConfig{o.size, o.size});   // throws for an unknown world
  const std::string policy = o.policy.empty() ? policy_names(o.world).front() : o.policy;
  make_policy(policy, o.world);                                                        // throws for an unknown policy
  const ActionSpec spec = probe->action_spec();
  probe.reset();

  const fs::path out(o.out);
  const Json header = dataset_header(o, policy);
  claim_folder(out, header);

  // A temporary folder is an episode an earlier run did not finish: remove it, it is made again.
  for (const auto& entry : fs::directory_iterator(out)) {
    std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind(".episode_", 0) == 0 && name.size() > 4 && name.ends_with(".tmp"))
      fs::remove_all(entry.path());
  }

  DatasetSummary summary;
  Progress progress(o.progress, o);
  // The recorder logs two info lines per episode, which would break the progress bar's one line;
  // at the default level they are hidden while it runs (--log-level debug shows them).
  struct LevelGuard {
    LogLevel saved = log_level();
    ~LevelGuard() { set_log_level(saved); }
  } level_guard;
  if (log_level() == LogLevel::Info) set_log_level(LogLevel::Warn);
  try {
    for (int e = 0; e < o.episodes; ++e) {
      fs::path final_dir = out / episode_name(e);
      if (episode_finished(final_dir, header, e)) {
        ++summary.episodes_kept;
        continue;
      }
      fs::path tmp = out / str(".", episode_name(e), ".tmp");
      fs::create_directory(tmp);
      EpisodeResult r = write_episode(o, policy, e, tmp, progress, e, summary.frames_made);
      Json m;
      m["format"] = kEpisodeFormat;
      m["version"] = kFormatVersion;
      m["episode"] = e;
      m["world"] = o.world;
      m["policy"] = policy;
      m["seed"] = o.seed + static_cast<uint64_t>(e);
      m["width"] = o.size;
      m["height"] = o.size;
      m["fps"] = kFps;
      m["frames"] = o.frames;
      m["actions"] = o.frames;
      m["action_convention"] = "action t is taken at frame t and shapes frame t+1";
      m["action_dims"] = action_dims_json(spec);
      m["files"] = r.files;
      m["frame_fnv1a64"] = r.frame_checksums;
      m["engine"] = {{"version", kVersion}, {"commit", kGitCommit}};
      write_text_synced(tmp / "manifest.json", m.dump(2) + "\n");
      sync_path(tmp);
      fs::rename(tmp, final_dir);
      sync_path(out);
      ++summary.episodes_made;
      progress.update(e + 1, 0, summary.frames_made, true);
    }
  } catch (...) {
    progress.finish();
    throw;
  }
  progress.finish();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace wl
