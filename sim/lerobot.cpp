// The LeRobot v2.1 layout (see lerobot.h): paths, one episode's Parquet file, its statistics as
// LeRobot's compute_episode_stats makes them (min, max, mean, population std and count per feature;
// images per channel, scaled to [0, 1], shaped [3, 1, 1]) and the meta files. Everything is a pure
// function of its inputs, so a resumed or merged run writes the same bytes. Callers: sim/synth.cpp.
#include "sim/lerobot.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "kernels/core/error.h"
#include "sim/parquet.h"

namespace wl::lerobot {
namespace {

std::string chunk_dir(int episode) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "chunk-%03d", episode / kChunkSize);
  return buffer;
}

std::string episode_file(int episode, const char* extension) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "episode_%06d%s", episode, extension);
  return buffer;
}

void sync_path(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;   // best effort: some file systems refuse directories
  ::fsync(fd);
  ::close(fd);
}

// Stats over rows of equal width: per dimension min, max, mean, std (population), count [rows].
Json vector_stats(const std::vector<std::vector<float>>& rows) {
  const size_t n = rows.size(), width = rows.empty() ? 0 : rows.front().size();
  Json mins = Json::array(), maxs = Json::array(), means = Json::array(), stds = Json::array();
  for (size_t a = 0; a < width; ++a) {
    double lo = rows[0][a], hi = rows[0][a], sum = 0;
    for (const auto& r : rows) {
      lo = std::min<double>(lo, r[a]);
      hi = std::max<double>(hi, r[a]);
      sum += r[a];
    }
    double mean = sum / static_cast<double>(n), var = 0;
    for (const auto& r : rows) var += (r[a] - mean) * (r[a] - mean);
    mins.push_back(lo);
    maxs.push_back(hi);
    means.push_back(mean);
    stds.push_back(std::sqrt(var / static_cast<double>(n)));
  }
  return {{"min", mins}, {"max", maxs}, {"mean", means}, {"std", stds}, {"count", {static_cast<int64_t>(n)}}};
}

Json scalar_stats(const std::vector<double>& values) {
  double lo = values[0], hi = values[0], sum = 0;
  for (double v : values) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
  }
  double mean = sum / static_cast<double>(values.size()), var = 0;
  for (double v : values) var += (v - mean) * (v - mean);
  return {{"min", {lo}}, {"max", {hi}}, {"mean", {mean}}, {"std", {std::sqrt(var / static_cast<double>(values.size()))}},
          {"count", {static_cast<int64_t>(values.size())}}};
}

Json scalar_feature(const char* dtype) { return {{"dtype", dtype}, {"shape", {1}}, {"names", nullptr}}; }

// LeRobot writes fps as an integer when it is one.
Json fps_json(double fps) {
  if (std::abs(fps - std::round(fps)) < 1e-9) return static_cast<int64_t>(std::llround(fps));
  return fps;
}

}  // namespace

fs::path data_path(const fs::path& root, int episode) { return root / "data" / chunk_dir(episode) / episode_file(episode, ".parquet"); }
fs::path video_path(const fs::path& root, int episode) {
  return root / "videos" / chunk_dir(episode) / kVideoKey / episode_file(episode, ".mp4");
}
fs::path record_path(const fs::path& root, int episode) { return root / "meta" / "worldloop_episodes" / episode_file(episode, ".json"); }
fs::path identity_path(const fs::path& root) { return root / "meta" / "worldloop_synth.json"; }

// [SECTION] Files published whole

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  WL_CHECK(in.good(), "cannot read ", path.string(), ": ", std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void publish(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  WL_CHECK(!ec, "cannot rename ", from.string(), " to ", to.string(), ": ", ec.message());
  sync_path(to.parent_path());
}

void write_file_atomic(const fs::path& path, const std::string& text) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  WL_CHECK(!ec, "cannot create ", path.parent_path().string(), ": ", ec.message());
  fs::path tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  WL_CHECK(fd >= 0, "cannot create ", tmp.string(), ": ", std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      WL_FAIL("cannot write ", tmp.string(), ": ", std::strerror(err), "; hint: is the disk full?");
    }
    done += static_cast<size_t>(n);
  }
  bool ok = ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  WL_CHECK(ok, "cannot flush ", tmp.string(), ": ", std::strerror(errno));
  publish(tmp, path);
}

// [SECTION] One episode

void ImageStats::add(std::span<const uint8_t> rgba, int pixels) {
  WL_CHECK(rgba.size() >= static_cast<size_t>(pixels) * 4, "image stats: a frame of ", rgba.size(), " bytes for ", pixels,
           " pixels (a bug)");
  for (int c = 0; c < 3; ++c) {
    int64_t sum = 0, sum_sq = 0;
    int lo = min_[c], hi = max_[c];
    for (int p = 0; p < pixels; ++p) {
      int v = rgba[static_cast<size_t>(p) * 4 + c];
      sum += v;
      sum_sq += v * v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    sum_[c] += static_cast<double>(sum);
    sum_sq_[c] += static_cast<double>(sum_sq);
    min_[c] = lo;
    max_[c] = hi;
  }
  ++frames_;
  pixels_ += pixels;
}

Json ImageStats::json() const {
  auto per_channel = [](auto f) {
    Json j = Json::array();
    for (int c = 0; c < 3; ++c) j.push_back(Json::array({Json::array({f(c)})}));
    return j;
  };
  const double n = static_cast<double>(std::max<int64_t>(pixels_, 1));
  return {{"min", per_channel([&](int c) { return min_[c] / 255.0; })},
          {"max", per_channel([&](int c) { return max_[c] / 255.0; })},
          {"mean", per_channel([&](int c) { return sum_[c] / n / 255.0; })},
          {"std", per_channel([&](int c) {
             double mean = sum_[c] / n;
             return std::sqrt(std::max(0.0, sum_sq_[c] / n - mean * mean)) / 255.0;
           })},
          {"count", {frames_}}};
}

void write_episode_parquet(const fs::path& path, const EpisodeColumns& e, const std::string& created_by) {
  const size_t F = e.actions.size();
  WL_CHECK(F >= 1 && e.states.size() == F, "episode ", e.episode, ": ", F, " actions and ", e.states.size(), " states (a bug)");
  std::vector<int64_t> frame_index(F), episode_index(F, e.episode), index(F), task_index(F, 0);
  std::vector<float> timestamp(F);
  for (size_t t = 0; t < F; ++t) {
    frame_index[t] = static_cast<int64_t>(t);
    index[t] = e.first_index + static_cast<int64_t>(t);
    timestamp[t] = static_cast<float>(static_cast<double>(t) / e.fps);
  }
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  WL_CHECK(!ec, "cannot create ", path.parent_path().string(), ": ", ec.message());
  fs::path tmp = path.string() + ".tmp";
  {
    ParquetWriter w(tmp.string(),
                    {{"action", ParquetType::FloatList},
                     {"observation.state", ParquetType::FloatList},
                     {"timestamp", ParquetType::Float},
                     {"frame_index", ParquetType::Int64},
                     {"episode_index", ParquetType::Int64},
                     {"index", ParquetType::Int64},
                     {"task_index", ParquetType::Int64}},
                    created_by);
    std::vector<ParquetColumnData> columns;
    columns.push_back(ParquetColumnData::float_lists(e.actions));
    columns.push_back(ParquetColumnData::float_lists(e.states));
    columns.push_back(ParquetColumnData::floats(std::move(timestamp)));
    columns.push_back(ParquetColumnData::int64s(std::move(frame_index)));
    columns.push_back(ParquetColumnData::int64s(std::move(episode_index)));
    columns.push_back(ParquetColumnData::int64s(std::move(index)));
    columns.push_back(ParquetColumnData::int64s(std::move(task_index)));
    w.write_row_group(columns);
    w.close();
  }
  publish(tmp, path);
}

Json episode_stats(const EpisodeColumns& e, const ImageStats& video) {
  const size_t F = e.actions.size();
  std::vector<double> timestamp(F), frame_index(F), episode_index(F, e.episode), index(F), task_index(F, 0);
  for (size_t t = 0; t < F; ++t) {
    timestamp[t] = static_cast<float>(static_cast<double>(t) / e.fps);   // the stored float32 value
    frame_index[t] = static_cast<double>(t);
    index[t] = static_cast<double>(e.first_index + static_cast<int64_t>(t));
  }
  Json s;
  s["action"] = vector_stats(e.actions);
  s["observation.state"] = vector_stats(e.states);
  s[kVideoKey] = video.json();
  s["timestamp"] = scalar_stats(timestamp);
  s["frame_index"] = scalar_stats(frame_index);
  s["episode_index"] = scalar_stats(episode_index);
  s["index"] = scalar_stats(index);
  s["task_index"] = scalar_stats(task_index);
  return s;
}

// [SECTION] Meta files

void write_meta(const fs::path& root, const Features& f, const std::string& task, const std::map<int, Json>& records) {
  int64_t total_frames = 0;
  std::string episodes, stats;
  std::map<int, bool> chunks;
  for (const auto& [e, r] : records) {
    const int64_t length = r.at("length").get<int64_t>();
    total_frames += length;
    chunks[e / kChunkSize] = true;
    episodes += Json{{"episode_index", e}, {"tasks", {task}}, {"length", length}}.dump() + "\n";
    stats += Json{{"episode_index", e}, {"stats", r.at("stats")}}.dump() + "\n";
  }
  const int n = static_cast<int>(records.size());

  Json action_names = Json::array();
  for (const ActionDim& d : f.action_spec.dims) action_names.push_back(d.name);
  Json features;
  features["action"] = {{"dtype", "float32"}, {"shape", {f.action_spec.width()}}, {"names", action_names}};
  features["observation.state"] = {
      {"dtype", "float32"}, {"shape", {static_cast<int>(f.state_names.size())}}, {"names", f.state_names}};
  features[kVideoKey] = {{"dtype", "video"},
                         {"shape", {f.video_height, f.video_width, 3}},
                         {"names", {"height", "width", "channels"}},
                         {"info",
                          {{"video.fps", f.fps},
                           {"video.height", f.video_height},
                           {"video.width", f.video_width},
                           {"video.channels", 3},
                           {"video.codec", f.video_codec},
                           {"video.pix_fmt", "yuv420p"},
                           {"video.is_depth_map", false},
                           {"has_audio", false}}}};
  features["timestamp"] = scalar_feature("float32");
  for (const char* key : {"frame_index", "episode_index", "index", "task_index"}) features[key] = scalar_feature("int64");

  Json info;
  info["codebase_version"] = kCodebaseVersion;
  info["robot_type"] = "worldloop_robot";
  info["total_episodes"] = n;
  info["total_frames"] = total_frames;
  info["total_tasks"] = 1;
  info["total_videos"] = n;
  info["total_chunks"] = static_cast<int>(chunks.size());
  info["chunks_size"] = kChunkSize;
  info["fps"] = fps_json(f.fps);
  info["splits"] = {{"train", str("0:", n)}};
  info["data_path"] = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet";
  info["video_path"] = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4";
  info["features"] = features;

  const fs::path meta = root / "meta";
  write_file_atomic(meta / "info.json", info.dump(4) + "\n");
  write_file_atomic(meta / "tasks.jsonl", Json{{"task_index", 0}, {"task", task}}.dump() + "\n");
  write_file_atomic(meta / "episodes.jsonl", episodes);
  write_file_atomic(meta / "episodes_stats.jsonl", stats);
}

}  // namespace wl::lerobot
