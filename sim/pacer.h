// Pacer: decides which generated video frame is on screen when, so that the frames of a block are
// shown evenly at the world's frame rate rather than in a burst as each block lands.
//
// Policy. Frames arrive a block at a time (add_block); each is shown `interval()` after the one
// before it. The interval is 1 / fps while generation keeps up. When it does not (the measured
// generation time per frame, smoothed, exceeds 1 / fps) the interval stretches to that time, so
// the picture slows down evenly (a lower frame rate) instead of running at full speed and then
// freezing; behind() says so, and the loop shows it in the overlay. If the queue still runs dry
// the last frame stays up (an underrun, counted) and the next block starts as soon as it lands.
// The queue itself is bounded by the loop's fixed number of blocks in flight, never here.
//
// BlockStartPlanner says when the loop should start generating the next block under the
// just-in-time policy (loop.h, [SECTION] Pipelining policy): from a running estimate of the
// generation time, as late as possible while it still lands before the queue's last frame is up.
//
// Time is seconds on a LoopClock: the steady clock when playing, a VirtualClock in tests and
// headless runs, which makes every decision here deterministic. Callers: sim/loop.cpp, tests.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <vector>

namespace wl {

class LoopClock {
 public:
  virtual ~LoopClock() = default;
  virtual double now() const = 0;                 // seconds, monotonic
  virtual void sleep_until(double seconds) = 0;   // returns at once if that time has passed
};

// std::chrono::steady_clock, counted from construction.
class SteadyLoopClock final : public LoopClock {
 public:
  SteadyLoopClock();
  double now() const override;
  void sleep_until(double seconds) override;

 private:
  int64_t start_ns_ = 0;
};

// Time moves only when someone sleeps or calls advance(): tests and deterministic headless runs.
class VirtualClock final : public LoopClock {
 public:
  double now() const override { return now_; }
  void sleep_until(double seconds) override {
    if (seconds > now_) now_ = seconds;
  }
  void advance(double seconds) { now_ += seconds; }

 private:
  double now_ = 0.0;
};

struct PacerInfo {
  double fps = 20.0;            // the world's video frame rate
  double smoothing = 0.3;       // weight of the newest block in the generation-rate average, (0, 1]
  double headroom = 1.05;       // behind: show frames this much slower than they are made, so the queue refills
};

struct PacerStats {
  int64_t frames_shown = 0;
  int64_t underruns = 0;        // times the queue ran dry while a frame was due
  double interval_s = 0.0;      // current time between frames
  double display_fps = 0.0;     // 1 / interval_s
  bool behind = false;          // generation is slower than real time: the frame rate is lowered
  double jitter_p99_ms = 0.0;   // p99 of |shown interval - interval in force| over recent frames
};

class Pacer {
 public:
  explicit Pacer(const PacerInfo& info);

  // `frames` new frames, available at `now`, that took `generation_s` to generate (0: unknown).
  void add_block(int64_t frames, double now, double generation_s);
  // The stream index (0, 1, ...) of the frame to show now, or nullopt: keep the one on screen.
  std::optional<int64_t> due(double now);
  // When the next frame is due; infinity when none is queued.
  double next_due() const;
  // When the last queued frame will be shown on the current schedule; -infinity when none is queued.
  double last_due() const;
  double interval() const { return interval_; }
  int64_t queued() const { return queued_; }
  bool behind() const { return interval_ > period_ * 1.0001; }
  PacerStats stats() const;
  void clear();                 // drop queued frames (load, reset); the stream index continues

 private:
  PacerInfo info_;
  double period_;
  double interval_;
  double gen_per_frame_ = 0.0;  // smoothed generation seconds per frame
  int64_t queued_ = 0;
  int64_t next_index_ = 0;      // stream index of the next frame to show
  double next_due_ = -1.0;      // < 0: the next frame is shown as soon as it is there
  double last_shown_ = -1.0;
  bool starved_ = false;
  PacerStats stats_;
  std::deque<double> jitter_ms_;
};

// [SECTION] just-in-time block start

struct BlockStartInfo {
  double smoothing = 0.25;      // weight of the newest block in the running mean and deviation, (0, 1]
  double deviations = 2.0;      // estimate = mean + this many mean absolute deviations (a busy machine varies)
  double margin_s = 0.02;       // extra seconds kept between the predicted finish and the deadline
};

class BlockStartPlanner {
 public:
  explicit BlockStartPlanner(const BlockStartInfo& info = {});
  // A block took `generation_s` seconds from start to ready (<= 0: ignored).
  void add(double generation_s);
  // Blocks now cost `factor` times as much (a fork into K branches: K; taking one back out: 1 / K).
  void scale(double factor);
  // The running estimate of the next block's generation time; 0 before the first block.
  double estimate() const;
  // Whether to start the next block at `now`, a tick of a loop that ticks every `tick_s`: yes once
  // waiting for the next tick would make it finish later than `deadline` - margin (deadline: when
  // the last queued frame is shown; -infinity: nothing queued, start at once).
  bool due(double now, double deadline, double tick_s) const;
  // The time due() turns true (for the overlay and tests).
  double start_time(double deadline, double tick_s) const;

 private:
  BlockStartInfo info_;
  double mean_ = 0.0, deviation_ = 0.0;
  bool seen_ = false;
};

}  // namespace wl
