// Frame pacing on a LoopClock (see pacer.h).
#include "sim/pacer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "kernels/core/error.h"

namespace wl {

SteadyLoopClock::SteadyLoopClock()
    : start_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count()) {}

double SteadyLoopClock::now() const {
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  return static_cast<double>(ns - start_ns_) * 1e-9;
}

void SteadyLoopClock::sleep_until(double seconds) {
  double wait = seconds - now();
  if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
}

Pacer::Pacer(const PacerInfo& info) : info_(info) {
  WL_CHECK(info.fps > 0 && info.fps <= 1000, "pacer: fps must be in (0, 1000], got ", info.fps);
  WL_CHECK(info.smoothing > 0 && info.smoothing <= 1, "pacer: smoothing must be in (0, 1]");
  period_ = interval_ = 1.0 / info.fps;
}

void Pacer::add_block(int64_t frames, double now, double generation_s) {
  (void)now;
  if (frames <= 0) return;
  queued_ += frames;
  if (generation_s > 0) {
    double per_frame = generation_s / static_cast<double>(frames);
    gen_per_frame_ = gen_per_frame_ == 0 ? per_frame : (1 - info_.smoothing) * gen_per_frame_ + info_.smoothing * per_frame;
  }
  // Slower than real time: spread the frames over the time the next block takes to make.
  interval_ = std::max(period_, gen_per_frame_ > period_ ? gen_per_frame_ * info_.headroom : period_);
}

std::optional<int64_t> Pacer::due(double now) {
  if (next_due_ >= 0 && now + 1e-9 < next_due_) return std::nullopt;
  if (queued_ == 0) {
    if (next_due_ >= 0 && !starved_) {
      ++stats_.underruns;
      starved_ = true;
    }
    return std::nullopt;
  }
  starved_ = false;
  if (last_shown_ >= 0 && next_due_ >= 0) {
    double shown_interval = now - last_shown_;
    jitter_ms_.push_back(std::abs(shown_interval - interval_) * 1000.0);
    if (jitter_ms_.size() > 240) jitter_ms_.pop_front();
  }
  // Even spacing from the schedule, not from `now`, so a late wake-up is not carried forward; after
  // a gap (an underrun) the schedule restarts from now rather than racing to catch up.
  double base = next_due_ >= 0 ? next_due_ : now;
  next_due_ = base + interval_;
  if (next_due_ <= now) next_due_ = now + interval_;
  last_shown_ = now;
  --queued_;
  ++stats_.frames_shown;
  return next_index_++;
}

double Pacer::next_due() const {
  if (queued_ == 0) return std::numeric_limits<double>::infinity();
  return std::max(next_due_, 0.0);
}

double Pacer::last_due() const {
  if (queued_ == 0) return -std::numeric_limits<double>::infinity();
  // next_due_ < 0: the first frame goes up as soon as the loop asks, i.e. now; count from 0.
  return std::max(next_due_, 0.0) + static_cast<double>(queued_ - 1) * interval_;
}

void Pacer::clear() {
  next_index_ += queued_;
  queued_ = 0;
  next_due_ = -1.0;
  last_shown_ = -1.0;
  starved_ = false;
}

PacerStats Pacer::stats() const {
  PacerStats s = stats_;
  s.interval_s = interval_;
  s.display_fps = 1.0 / interval_;
  s.behind = behind();
  if (!jitter_ms_.empty()) {
    std::vector<double> v(jitter_ms_.begin(), jitter_ms_.end());
    size_t k = std::min(v.size() - 1, static_cast<size_t>(std::ceil(0.99 * static_cast<double>(v.size()))) - 1);
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    s.jitter_p99_ms = v[k];
  }
  return s;
}

// [SECTION] just-in-time block start

BlockStartPlanner::BlockStartPlanner(const BlockStartInfo& info) : info_(info) {
  WL_CHECK(info.smoothing > 0 && info.smoothing <= 1, "block start: smoothing must be in (0, 1], got ", info.smoothing);
  WL_CHECK(info.deviations >= 0 && info.margin_s >= 0, "block start: deviations and margin must be >= 0");
}

void BlockStartPlanner::add(double generation_s) {
  if (!(generation_s > 0)) return;
  if (!seen_) {
    mean_ = generation_s;
    deviation_ = 0.5 * generation_s;   // unsure after one sample: lean early
    seen_ = true;
    return;
  }
  // Mean and mean absolute deviation as TCP estimates its round trip (RFC 6298), deviation first.
  deviation_ = (1 - info_.smoothing) * deviation_ + info_.smoothing * std::abs(generation_s - mean_);
  mean_ = (1 - info_.smoothing) * mean_ + info_.smoothing * generation_s;
}

void BlockStartPlanner::scale(double factor) {
  WL_CHECK(factor > 0, "block start: scale factor must be positive, got ", factor);
  mean_ *= factor;
  deviation_ *= factor;
}

double BlockStartPlanner::estimate() const { return mean_ + info_.deviations * deviation_; }

double BlockStartPlanner::start_time(double deadline, double tick_s) const {
  if (!std::isfinite(deadline)) return -std::numeric_limits<double>::infinity();
  // The latest tick that still makes the deadline: one tick before the ideal start, because the
  // next chance to start comes a tick later.
  return deadline - info_.margin_s - estimate() - tick_s;
}

bool BlockStartPlanner::due(double now, double deadline, double tick_s) const {
  return now + 1e-9 >= start_time(deadline, tick_s);
}

}  // namespace wl
