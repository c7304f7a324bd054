// Save-states: a Session written to one safetensors file and read back, refusing anything that is
// not exactly what this model wrote.
//   tensors:  state.*            the WorldState (model/world_state.h; constant size)
//             noise              int64 [B, 2]: (seed, counter) per sequence, uint64 bit patterns
//             recent_latents     [B, C, <= 8, h, w]: what a fresh decoder replays to resume the stream
//             caption, caption_mask   the conditioning the session ran with
//   metadata: format "worldloop-snapshot" (the magic), format_version "1", model_hash (hex, see
//             WorldModel::hash), model_label, state_policy, batch, latent_frame (next latent frame),
//             video_frame (next video frame), denoise_steps, block_frames, engine version, and
//             checksum: a 64-bit hash of every other metadata entry and every tensor's name, dtype,
//             shape and bytes.
// read_snapshot checks, in order: the safetensors structure (a truncated file fails here), the
// magic, the version, the checksum (a flipped byte anywhere fails here at the latest), the model
// hash (another model or config), then the shapes against a fresh state. Every refusal is one
// wl::Error naming the file and what was wrong; nothing of the running session is touched until
// apply_snapshot, which builds the new session completely before the caller swaps it in.
// Callers: the frame loop (F5/F9 and the overlay's slots), tests; later `worldloop replay`/`rollout --branch`.
#pragma once

#include <cstdint>
#include <string>

#include "sim/session.h"

namespace wl {

inline constexpr const char* kSnapshotMagic = "worldloop-snapshot";
inline constexpr int kSnapshotVersion = 1;

// Loop settings stored beside the state so that a loaded session continues as it was saved.
struct SnapshotSettings {
  int denoise_steps = 4;
  int block_frames = 3;
};

// Writes atomically (temporary file + rename): a failed save leaves any earlier file intact.
void save_snapshot(const std::string& path, const Session& session, const SnapshotSettings& settings);

// A checked snapshot, held in memory, not yet applied.
struct Snapshot {
  std::string path;
  SnapshotSettings settings;
  int64_t video_frame = 0;
  std::map<std::string, at::Tensor> tensors;   // owned copies (the file may change after reading)
  std::map<std::string, std::string> metadata;
};

// Throws wl::Error for every case in the header comment.
Snapshot read_snapshot(const std::string& path, const WorldModel& model);
// A new session continuing the snapshot (the caller swaps it in). Throws wl::Error (naming the
// tensor) if a shape does not fit the model.
Session apply_snapshot(const Snapshot& snapshot, const WorldModel& model);

}  // namespace wl
