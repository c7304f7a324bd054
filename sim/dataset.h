// `worldloop dataset`: training data from the ground-truth worlds. Per episode a scripted policy
// plays a world for F frames; the exporter writes the frames as a raw uint8 shard [F, H, W, 3], an
// MP4 for viewing, the actions as jsonl with the ActionSpec's field names (plus VPT's own jsonl for
// voxel) and a manifest.json with shapes and FNV-1a checksums. Each episode is written into a
// temporary folder and renamed into place, so an interrupted run resumes where it stopped and never
// damages what is already there. Same options give byte-identical shards. Format: docs/dataset.md.
// Callers: main.cpp (the `dataset` subcommand), `play --ground-truth --record` (action lines).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "envs/action_spec.h"

namespace wl {

struct DatasetOptions {
  std::string world = "voxel";   // "voxel", "driving" or "robot"
  std::string policy;            // scripted policy; "" = the world's first (purposeful) one
  int episodes = 1;              // episodes wanted in total (finished ones are kept, the rest made)
  int frames = 200;              // F, frames per episode (20 per second of play)
  uint64_t seed = 0;             // episode i plays world and policy seed `seed + i`
  int size = 128;                // frame width = height in pixels, even, 16..1024
  std::string out;               // the dataset folder; created if missing
  bool video = true;             // also write video.mp4 per episode (needs a recording build)
  bool progress = true;          // the one-line progress bar on stderr
};

struct DatasetSummary {
  int episodes_made = 0;         // written by this run
  int episodes_kept = 0;         // finished before this run, skipped
  int64_t frames_made = 0;       // frames simulated by this run
  double seconds = 0.0;          // wall time of this run
};

// Makes the missing episodes of `options.out`. Throws wl::Error, before writing anything, for an
// unknown world or policy, a bad size or count, or an --out that is not an empty folder or a dataset
// made with the same world, policy, size, frames and seed; later I/O failures leave the finished
// episodes intact and the half-written one in a temporary folder that the next run removes.
DatasetSummary run_dataset(const DatasetOptions& options);

// One actions.jsonl line (no newline): {"frame": t, "<dim name>": value, ...} in the spec's order;
// binary and discrete values as integers, continuous ones as floats.
std::string action_json_line(const ActionSpec& spec, int64_t frame, std::span<const float> action);
// The action as the world uses it: each value clamped to its dimension's range, discrete and binary
// ones rounded, so that what a log stores is what the world was fed. wl::Error on a wrong width or NaN.
std::vector<float> clamp_action(const ActionSpec& spec, std::vector<float> action);

}  // namespace wl
