// `worldloop bench`: every speed and memory number the project reports comes from here, as a table
// on stdout and, with --json, a JSON file that records the machine, the build and the commit next
// to each number. Sections grow as parts land: worlds (ground-truth simulators), dit (the world
// model's DiT: ms per forward, video frames/s for blocks of 1/3/10 latent frames with the 4-step
// sampler plus the commit pass, steady and peak memory, state bytes; random weights unless given),
// decoders (Wan2.1 VAE, once per --wan-variant, and TAEHV, streaming one latent at a time: ms per
// frame, state bytes and memory growth over the run; each Wan row names its variant), present (headless presenter: ms per frame, host uploads per frame),
// loop (the frame loop in real time with a scripted player: frames/s shown, input-to-photon latency
// median and p99, frame-time jitter p99, state bytes; the random-weight tiny world until a trained
// world ships), worlds-models (each shipped world under assets/worlds/ and each --model directory
// played as the loop plays it: denoise + commit + decode per displayed frame, with the world's block
// size and denoise steps, no pacing: frames/s on this machine).
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
  // dit section (runs when named in `sections` or when `preset` is set)
  std::string preset;                  // DiT config, default sana-video-2b-480p; random weights
  std::vector<int> block_frames = {1, 3, 10};   // latent frames per block
  int latent_h = 60, latent_w = 104;   // 480x832 video through the Wan2.1 VAE (8x)
  int caption_tokens = 300;            // the official max prompt length
  std::string device = "cpu";          // "cpu" or "cuda"
  bool bf16 = false;                   // model dtype bf16 (set automatically on CUDA)
  // decoders section (runs when named): latent grid as above
  int decoder_latents = 8;             // latents streamed per decoder (1,000 for the growth check)
  std::vector<std::string> wan_variants = {"auto"};   // Wan2.1 VAE variants to time, one row set each
                                       // (model/wan_vae.h WanVAEVariant: auto, baseline, all, cl+cudnn, ...)
  // loop section
  std::string loop_world = "voxel";    // world whose action space the random tiny model takes
  int loop_frames = 200;               // displayed frames (10 s at 20 fps)
  // worlds-models section
  std::vector<std::string> models;     // world directories to time beside the shipped worlds
  int model_frames = 60;               // displayed frames per repetition (after one warm-up block)
  int denoise_steps = 0;               // sampler steps per block; 0 = each world's own
};

struct BenchRow {
  std::string section;   // "worlds"
  std::string name;      // "voxel 128x128"
  std::string metric;    // "frames/s (1 core)"
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
  std::string variant;   // the decoder variant timed ("cl+cudnn"; decoders section, Wan rows), else empty
};

// The section names run_bench() knows, in the order it runs them.
const std::vector<std::string>& bench_sections();

// Runs the chosen sections, prints the table to `out`, writes JSON if asked; returns the rows.
// Throws wl::Error for an unknown section or an unwritable JSON path.
std::vector<BenchRow> run_bench(const BenchOptions& options, std::ostream& out);

// The CPU's model name from /proc/cpuinfo ("unknown" elsewhere), for reports.
std::string cpu_model_name();

}  // namespace wl
