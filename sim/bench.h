// `worldloop bench`: every speed and memory number the project reports comes from here, as a table
// on stdout and, with --json, a JSON file that records the machine, the build and the commit next
// to each number. Sections grow as parts land: worlds (ground-truth simulators).
// Each measurement repeats `repeats` times and reports the median with the min and max, so that a
// number can be reproduced and its noise seen. Callers: main.cpp; tools/gpu_run.sh on the GPU machine.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace wl {

struct BenchOptions {
  std::vector<std::string> sections;   // which sections to run; empty = all
  int repeats = 3;                     // timed repetitions per row (median reported)
  int world_frames = 500;              // steps per repetition for the worlds section
  int world_size = 128;                // world frame width = height, pixels
  std::string json_path;               // also write results here ("" = table only)
};

struct BenchRow {
  std::string section;   // "worlds"
  std::string name;      // "voxel 128x128"
  std::string metric;    // "frames/s (1 core)"
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
};

// The section names run_bench() knows, in the order it runs them.
const std::vector<std::string>& bench_sections();

// Runs the chosen sections, prints the table to `out`, writes JSON if asked; returns the rows.
// Throws wl::Error for an unknown section or an unwritable JSON path.
std::vector<BenchRow> run_bench(const BenchOptions& options, std::ostream& out);

}  // namespace wl
