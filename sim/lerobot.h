// The LeRobot v2.1 dataset layout, as `worldloop synth` writes it (docs/synth.md):
//   meta/info.json, meta/episodes.jsonl, meta/tasks.jsonl, meta/episodes_stats.jsonl
//   data/chunk-XXX/episode_XXXXXX.parquet      action, observation.state, timestamp, frame_index,
//                                              episode_index, index, task_index (one row per frame)
//   videos/chunk-XXX/observation.images.head/episode_XXXXXX.mp4
// plus worldloop's own bookkeeping, which LeRobot ignores: meta/worldloop_synth.json (what made the
// dataset; a different run is refused) and meta/worldloop_episodes/episode_XXXXXX.json (one finished
// episode's length and statistics, from which the meta files are rebuilt). Episode e lives in chunk
// e / 1000. This module knows paths, features, statistics and the meta files; synth.cpp makes episodes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "envs/action_spec.h"

namespace wl::lerobot {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

inline constexpr const char* kCodebaseVersion = "v2.1";
inline constexpr int kChunkSize = 1000;
inline constexpr const char* kVideoKey = "observation.images.head";

fs::path data_path(const fs::path& root, int episode);           // data/chunk-XXX/episode_XXXXXX.parquet
fs::path video_path(const fs::path& root, int episode);          // videos/chunk-XXX/<video key>/episode_XXXXXX.mp4
fs::path record_path(const fs::path& root, int episode);         // meta/worldloop_episodes/episode_XXXXXX.json
fs::path identity_path(const fs::path& root);                    // meta/worldloop_synth.json

// One episode's columns, frame t per row (F rows).
struct EpisodeColumns {
  int episode = 0;
  int64_t first_index = 0;                    // global index of frame 0
  double fps = 20.0;
  std::vector<std::vector<float>> actions;    // [F][A]
  std::vector<std::vector<float>> states;     // [F][S]
};

// What info.json's features need besides the columns.
struct Features {
  ActionSpec action_spec;
  std::vector<std::string> state_names;
  int video_height = 0, video_width = 0;
  double fps = 20.0;
  std::string video_codec = "h264";
};

// Per-channel statistics of RGB8 frames, accumulated frame by frame (the video feature's stats).
class ImageStats {
 public:
  void add(std::span<const uint8_t> rgba, int pixels);   // one RGBA8 frame of `pixels` pixels
  Json json() const;                                     // LeRobot's [3,1,1] min/max/mean/std in [0, 1], count [F]

 private:
  int64_t frames_ = 0, pixels_ = 0;
  double sum_[3] = {0, 0, 0}, sum_sq_[3] = {0, 0, 0};
  int min_[3] = {255, 255, 255}, max_[3] = {0, 0, 0};
};

// Writes `path` (through path.tmp + fsync + rename) with the episode's rows in one row group.
void write_episode_parquet(const fs::path& path, const EpisodeColumns& columns, const std::string& created_by);
// The episode's episodes_stats entry: stats of every column, plus the video's.
Json episode_stats(const EpisodeColumns& columns, const ImageStats& video);

// Rebuilds meta/info.json, episodes.jsonl, tasks.jsonl and episodes_stats.jsonl from the finished
// episodes' records (episode index -> record), each file through a temporary and a rename.
void write_meta(const fs::path& root, const Features& features, const std::string& task,
                const std::map<int, Json>& records);

// [SECTION] Files published whole

// Writes `text` to path.tmp, fsyncs it and renames it to `path` (the folder is created if missing).
void write_file_atomic(const fs::path& path, const std::string& text);
// Renames `from` over `to` and fsyncs the folder: the step that publishes a finished file.
void publish(const fs::path& from, const fs::path& to);
std::string read_file(const fs::path& path);

}  // namespace wl::lerobot
