// Training clips for `worldloop train`: batch slot b of optimizer step s -> `advance` consecutive
// (action, resulting frame) pairs of a ground-truth world, either simulated on the fly by scripted
// policies or read from a `worldloop dataset` folder. What a step gets is a function of (seed, step,
// slot) alone, so a resumed run sees exactly the clips an uninterrupted one would, and the next
// step's batch is built on a helper thread while the current step trains (prefetch).
//   batch(B, s) -> frames [B, F, 3, S, S] float in [0, 1] (frame j is what action j made), actions [B, F, A]
// Callers: sim/train.cpp (every stage).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <utility>

namespace wl {

struct TrainOptions;

// Makes the clip of one slot of one step; called from one thread at a time, steps in order.
class ClipMaker {
 public:
  struct Clip {
    at::Tensor frames;    // [F, 3, S, S]
    at::Tensor actions;   // [F, A]
  };
  virtual ~ClipMaker() = default;
  virtual Clip take(int64_t slot, int64_t step) = 0;
};

class ClipSource {
 public:
  explicit ClipSource(std::unique_ptr<ClipMaker> maker) : maker_(std::move(maker)) {}
  ~ClipSource();
  // All slots of step `step` (from 1); steps are asked for in increasing order. Returns the
  // prefetched batch when it is the one asked for, and starts building step + 1.
  std::pair<at::Tensor, at::Tensor> batch(int64_t batch, int64_t step);
  // Seconds the last batch() call waited for its data (0 when the prefetch was ready).
  double last_wait_seconds() const { return last_wait_; }

 private:
  std::pair<at::Tensor, at::Tensor> build(int64_t batch, int64_t step);
  // Member order is teardown order in reverse: the prefetch (which uses the maker) ends first.
  std::unique_ptr<ClipMaker> maker_;
  std::future<std::pair<at::Tensor, at::Tensor>> pending_;
  int64_t pending_step_ = -1, pending_batch_ = 0;
  double last_wait_ = 0.0;
};

// Simulated when options.data is empty (slot b plays its own stream of episodes; policy "" alternates
// the world's scripted policy (even slots) and sticky_random (odd slots)), else read from
// options.data: one `worldloop dataset` folder, or a folder whose subfolders are datasets (made in
// parallel, one process each), all of the world and size being trained.
// Throws wl::Error for an unreadable or mismatched dataset.
std::unique_ptr<ClipSource> make_clip_source(const TrainOptions& options, int64_t advance, int64_t batch);

}  // namespace wl
