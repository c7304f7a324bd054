// `worldloop synth`: robot data synthesis. Per episode a policy (pick_place, sticky_random, or the
// actions of an actions.jsonl file) plays the robot simulator (envs/), which supplies each frame's
// observation.state; the video comes from a world model driven by the same actions (or, with
// --ground-truth, from the simulator). Output: a LeRobot v2.1 dataset (sim/lerobot.h,
// docs/synth.md). Episodes are published whole (temporary files + rename, the Parquet file last),
// so a killed run restarted with the same options skips finished episodes and ends with the same
// bytes; the meta files are rebuilt from the finished episodes. --shard i/n makes the episodes
// e with e % n == i (episode e's seed depends only on (seed, e)); merge_synth() joins shard folders.
// Callers: sim/main.cpp (the `synth` subcommand), tests/sim/test_synth.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wl {

struct SynthOptions {
  std::string out;                 // the dataset folder: new, empty, or this same dataset (resume)
  int episodes = 10;               // episodes in the whole dataset (all shards together)
  int frames = 200;                // F, frames per episode
  std::string policy = "pick_place";   // "pick_place" or "sticky_random"; ignored with actions_file
  std::string actions_file;        // actions.jsonl: every episode plays its first F lines
  // The video source, exactly one of:
  std::string model_dir;           // a world directory (--model DIR)
  std::string world;               // a shipped world by name (--world robot)
  bool random_tiny = false;        // a RANDOM-WEIGHT tiny robot model (tests)
  bool ground_truth = false;       // the simulator's own frames
  int size = 128;                  // ground truth: frame width = height, even, 16..1024
  uint64_t seed = 0;               // episode e's world, policy and noise seed is a hash of (seed, e)
  std::string task;                // the task text; "" = one describing the policy
  int shard_index = 0;             // this run makes episodes e with e % shard_count == shard_index
  int shard_count = 1;
  std::string device = "cpu";      // world model device: cpu or cuda[:i]
  int denoise_steps = 0;           // world model sampler steps per block; 0: the world's own
  bool progress = true;            // the progress bar on stderr (episodes/s, ETA)
};

struct SynthSummary {
  int episodes_made = 0;           // written by this run
  int episodes_kept = 0;           // finished before this run, skipped (merge: episodes copied)
  int64_t frames_made = 0;
  double seconds = 0.0;
  std::string note;                // what to do next ("" when the dataset is complete)
};

// Makes the missing episodes of this shard. Throws wl::Error before writing anything for a bad
// option, an unknown policy, an unreadable or malformed actions file, a model that is not a robot
// world, or an --out that holds something other than this dataset.
SynthSummary run_synth(const SynthOptions& options);

// Joins the folders of a sharded run (`--shard i/n` for every i) into one dataset in `out`, equal to
// what an unsharded run writes. Throws wl::Error naming the shard folder that is missing, foreign
// or unfinished, before writing anything.
SynthSummary merge_synth(const std::string& out, const std::vector<std::string>& shard_dirs);

// "i/n" with 0 <= i < n -> {i, n}; wl::Error naming --shard otherwise.
std::pair<int, int> parse_shard(const std::string& text);

}  // namespace wl
