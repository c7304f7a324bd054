// Training clips for `worldloop train`: batch slot b of optimizer step s -> `advance` consecutive
// (action, resulting frame) pairs of a ground-truth world, either simulated on the fly by scripted
// policies or read from a `worldloop dataset` folder. What a step gets is a function of (seed, step,
// slot) alone, so a resumed run sees exactly the clips an uninterrupted one would, and the next
// step's batch is built on a helper thread while the current step trains (prefetch).
//   batch(B, s) -> frames [B, F, 3, S, S] float in [0, 1] (frame j is what action j made), actions [B, F, A]
// Counterfactual pairs (train --contrast, simulated clips only): rows 2i and 2i + 1 share their
// first F - tail frames and actions; from that state row 2i plays on with the policy and row 2i + 1
// with other (sticky random) actions, so the two rows' last frames differ by what the actions did.
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

// Makes the clip of one slot of one step; different slots of a step are made at once on several
// threads, each slot by one thread, steps in order.
class ClipMaker {
 public:
  struct Clip {
    at::Tensor frames;    // [F, 3, S, S]
    at::Tensor actions;   // [F, A]
  };
  virtual ~ClipMaker() = default;
  virtual Clip take(int64_t slot, int64_t step) = 0;
  // The clip of pair `pair` and its counterfactual twin (see above); wl::Error where the source
  // cannot replay a state (a dataset).
  virtual std::pair<Clip, Clip> take_pair(int64_t pair, int64_t step, int64_t tail);
};

class ClipSource {
 public:
  // pair_tail > 0: counterfactual pairs whose last pair_tail frames differ (the batch must be even).
  // Slots are made on as many threads as ATen has here (OMP_NUM_THREADS).
  ClipSource(std::unique_ptr<ClipMaker> maker, int64_t pair_tail);
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
  int64_t pair_tail_ = 0;
  int threads_ = 1;
  std::future<std::pair<at::Tensor, at::Tensor>> pending_;
  int64_t pending_step_ = -1, pending_batch_ = 0;
  double last_wait_ = 0.0;
};

// Simulated when options.data is empty (slot b plays its own stream of episodes; policy "" alternates
// the world's scripted policy (even slots) and sticky_random (odd slots)), else read from
// options.data: one `worldloop dataset` folder, or a folder whose subfolders are datasets (made in
// parallel, one process each), all of the world and size being trained. pair_tail > 0 makes
// counterfactual pairs (simulated only).
// Throws wl::Error for an unreadable or mismatched dataset, or pairs asked of a dataset.
std::unique_ptr<ClipSource> make_clip_source(const TrainOptions& options, int64_t advance, int64_t batch,
                                             int64_t pair_tail = 0);

}  // namespace wl
