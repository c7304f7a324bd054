// `worldloop replay SESSION_DIR [--out video.mp4]`: regenerates a recorded session (sim/session_log.h)
// from its logs by driving a Session directly, block by block, with no clock: each epoch starts as
// session.json says (fresh, or the copied snapshot), each block gets the noise stream (seed,
// counter), denoise steps and [T, A] actions blocks.jsonl recorded, and every frame the recording
// showed is hashed (FNV-1a 64 of its RGBA8) and compared with actions.jsonl. On the same machine
// and build (CPU) the frames are bit-identical; otherwise the first differing frame is reported.
// A model whose WorldModel::hash differs from the recorded one is refused with both hashes and
// labels, unless --force, which replays anyway and reports where the frames part.
// Callers: main.cpp (`replay`), tests.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

#include "sim/frame_types.h"

namespace wl {

class WorldModel;

struct ReplayOptions {
  std::string session_dir;       // a directory written by `play --record DIR` or `rollout`
  std::string out;               // also write the regenerated frames to this MP4 ("" = none)
  std::string model_dir;         // replay with this world directory instead of the recorded model
  std::string device = "cpu";    // "cpu" or "cuda"
  bool force = false;            // replay with a model whose hash differs from the recorded one
};

struct ReplayResult {
  int64_t frames = 0;            // frames compared
  int64_t blocks = 0;            // blocks regenerated
  int64_t differing = 0;         // frames whose hash differs
  int64_t first_mismatch = -1;   // frame index of the first one, -1 when none
  int64_t mismatch_block = -1, mismatch_block_frame = -1;
  uint64_t recorded = 0, replayed = 0;   // the two hashes of that frame
  bool model_matches = true;
  uint64_t frames_fnv1a64 = 0;   // chained over every regenerated frame, as `play` prints it
};

// Regenerates the session in `dir` with `model`; `sink` receives each regenerated frame (host
// RGBA8) with its frame index. Throws wl::Error for a missing or malformed file (naming file and
// line), a log that does not fit together, or a model hash mismatch without options.force.
ReplayResult replay_session(const std::string& dir, const WorldModel& model, const ReplayOptions& options,
                            const std::function<void(const FrameTarget&, int64_t)>& sink = {});

// The command: loads the recorded model (or --model), replays, writes --out, prints one line. Throws
// wl::Error when the frames differ from a recording made with the same model.
void run_replay(const ReplayOptions& options, std::ostream& out);

}  // namespace wl
