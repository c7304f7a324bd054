// `worldloop rollout`: many headless rollouts of a world model, B at a time (CUDA: one batched
// Session, row b with its own seed, noise and action stream; CPU: B one-row sessions in lockstep,
// since CPU kernels are not batch-invariant, so batched equals one at a time bit for bit). Rollouts are every action
// source x every seed; an action source is a scripted policy (envs/policies.h), an action file in
// the actions.jsonl format (held at its last action when it runs out), or, for driving, a trajectory
// of target speeds and curvatures that a controller turns into steer/throttle/brake. Offline: the
// F frames a block decodes take F actions, aggregated into the block's [T, A] as the loop does.
// --branch K --from FILE.wlsnap forks K futures (seeds S..S+K-1) from a saved state instead.
// Per rollout OUT/rollout_NNNN/: video.mp4, actions.jsonl, blocks.jsonl, session.json (replayable by
// `worldloop replay`) and metrics.json, written in a temporary directory and renamed when complete;
// OUT/rollout.json pins the arguments (a rerun with the same ones skips finished rollouts, other
// ones are refused), OUT/summary.json and a printed table sum up, with frames/s overall and while
// generating (denoise + commit + decode alone: what batching speeds up, free of the encoder and the
// files). A build without recording (FFmpeg) writes everything but video.mp4 and says so once;
// --video makes that an error instead. Format: docs/sessions.md.
// Callers: main.cpp (`rollout`), tests.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace wl {

struct RolloutOptions {
  std::string model_dir;                 // a world directory; empty with random_tiny
  bool random_tiny = false;              // the random-weight tiny world (tests, demos)
  std::string world = "driving";         // random_tiny: whose actions
  std::string device = "cpu";            // "cpu" or "cuda"
  std::vector<std::string> policies;     // scripted policies, one source each
  std::vector<std::string> action_files; // actions.jsonl files, one source each
  std::vector<std::string> trajectories; // driving: trajectory jsonl files, one source each
  uint64_t seed = 0;                     // first seed
  int seeds = 1;                         // seeds seed .. seed + seeds - 1 per source
  int frames = 100;                      // N video frames per rollout
  int batch = 4;                         // B rollouts at once
  int block_frames = 0;                  // latent frames per block, 0: the world's
  int denoise_steps = 0;                 // sampler steps per block, 0: the world's
  std::string from;                      // --branch: the .wlsnap to fork from
  int branch = 0;                        // K futures from `from` (sets seeds = K)
  std::string out;                       // the output directory (new, empty, or this run's to resume)
  bool video = true;                     // write video.mp4 per rollout (false: --no-video; a build
                                         //   without recording skips it, saying so once)
  bool video_required = false;           // --video: refuse to run without video.mp4 (a build without recording)
  bool progress = true;                  // progress bar on stderr
};

struct RolloutSummary {
  int made = 0, kept = 0;                // rollouts written by this run / finished before it
  int64_t frames_made = 0;
  double seconds = 0.0;                  // wall time of this run (model load, generation, files, encoding)
  double generation_seconds = 0.0;       // of which denoise + commit + decode, the device synchronised
};

// Throws wl::Error before writing anything for a bad option, an unreadable action or trajectory
// file, an unknown policy, or an --out that holds something else; prints the table to `out`.
RolloutSummary run_rollout(const RolloutOptions& options, std::ostream& out);

}  // namespace wl
