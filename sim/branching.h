// Branching in the live loop: fork the session into K futures that run as one batch (Session::fork),
// show them side by side as a grid in the presenter's frame, and continue from the one picked
// (Session::branch). The loop (sim/loop.cpp) owns a Branching and calls it on the display thread;
// it changes the session only when the worker is idle (the start of the next block).
//   ActionTensor [T, A] of the player -> branch_actions -> K streams [T, A] (one per batch row)
//   VideoBlock [K, 3, F, H, W], frame f -> write_grid -> one FrameTarget, cell i = view_grid(K)[i]
// Policy (docs/play.md): branch 0 keeps the session's noise seed (it is the future you would have
// had), branch i gets seed + i. The steered branch (LiveSettings::steered_branch, 0 by default)
// takes your input as is; every other branch takes the same input perturbed (perturb_actions), so
// all K follow your intent and differ both by noise and by what is done in them.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "envs/action_spec.h"
#include "render/overlay.h"
#include "sim/frame_types.h"

namespace wl {

class Session;
struct VideoBlock;

// Seeds of K branches forked from a session whose noise seed is `seed`: seed, seed + 1, ...
std::vector<uint64_t> branch_seeds(uint64_t seed, int k);

// The player's actions perturbed for one branch, the same offset on every row of a block (a
// coherent "what if", not per-frame jitter), drawn from (seed, block) alone: each Binary dimension
// flips with probability 1/8, a Continuous one moves by up to +-half its range, a Discrete one by up
// to +-a quarter of its bins; then clamped to the spec. Deterministic.
ActionTensor perturb_actions(const ActionSpec& spec, const ActionTensor& actions, uint64_t seed, int64_t block);

// Frame f of every batch row of `video` scaled into its cell of view_grid(B, target size), the
// rest of the target black. Host and CUDA targets alike: each cell is written by the decoder's
// write_rgba8 through a sub-target (FrameTarget::region: an offset pointer, or a surface origin).
void write_grid(const Session& session, const VideoBlock& video, int64_t f, const FrameTarget& target);

// A tensor frame [1, 3, 1, h, w] in the decoder's range written scaled into `cell` of `target`.
void write_scaled(const Session& session, const at::Tensor& frame, const FrameTarget& target, int x, int y, int width,
                  int height);

// The branching state of one loop. Requests take effect at apply(), when the worker is idle.
class Branching {
 public:
  void request_fork(int k);             // clamped to 2..kMaxBranches; ignored while branching
  void request_continue(int i);         // ignored unless 0 <= i < branches()
  void cancel();                        // reset, load: back to one sequence, nothing pending
  int branches() const { return static_cast<int>(seeds_.size()); }   // 0: not branching
  int pending_continue() const { return continue_; }
  // The batch row to show for a block of `batch` rows made now: 0 for one, -1 (the grid) for K,
  // the chosen one once a continue was asked for.
  int row_for(int64_t batch) const;
  // Applies a pending fork or continue to `session` (worker idle). Returns the factor by which a
  // block's cost changes (K, 1 / K, or 1) and a message for the overlay ("" when nothing changed).
  double apply(Session& session, std::string& message);
  // The K action streams of the next block: the steered branch gets `actions`, the others
  // perturb_actions of it. One stream when not branching.
  std::vector<ActionTensor> actions_for_block(const ActionSpec& spec, const ActionTensor& actions, int steered);

 private:
  std::vector<uint64_t> seeds_;
  int fork_ = 0, continue_ = -1;
  int64_t blocks_ = 0;                  // batch blocks started since the fork (perturbation counter)
};

}  // namespace wl
