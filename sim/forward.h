// `worldloop forward`: one DiT forward on given inputs, for users validating a converted
// checkpoint and for our parity checks. Input file tensors (safetensors):
//   latents [B, C, T, Hl, Wl], timestep [B] or [B, T], caption [B, L, Cc], caption_mask [B, L]
//   optional: actions [B, T, A], first_frame (int64 scalar), and an incoming world state
//   ("state.*" tensors as written by --commit, with its policy in the "state_policy" metadata)
// Output file: "velocity" [B, C, T, Hl, Wl] float32, and with a state the outgoing "state.*"
// tensors (after the block is committed when --commit). Throws wl::Error naming the bad tensor.
#pragma once

#include <string>

namespace wl {

struct ForwardOptions {
  std::string model;            // world/model directory or .safetensors file
  std::string inputs;           // input tensors (see above)
  std::string out;              // output file, written atomically
  std::string device = "cpu";   // "cpu" or "cuda"
  bool bf16 = false;            // model dtype bf16 (attention still accumulates in fp32)
  bool commit = false;          // add this block to the world state and write the state out
  std::string state_policy;     // for a new state: global, window:N, sink+window:N ("" = global)
};

void run_forward(const ForwardOptions& options);

}  // namespace wl
