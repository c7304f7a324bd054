// Branching in the live loop: seeds, perturbed action streams, the grid of K views, and the
// fork/continue requests applied while the worker is idle (see branching.h).
#include "sim/branching.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "kernels/core/error.h"
#include "kernels/core/hash.h"
#include "sim/session.h"

namespace wl {

namespace {

// A uniform number in [0, 1) from a counter-based stream (splitmix64, as the sampler's noise).
double uniform(uint64_t seed, uint64_t a, uint64_t b) {
  uint64_t x = splitmix64(splitmix64(splitmix64(seed) ^ a) ^ b);
  return static_cast<double>(x >> 11) * (1.0 / 9007199254740992.0);   // 53 bits
}

}  // namespace

std::vector<uint64_t> branch_seeds(uint64_t seed, int k) {
  WL_CHECK(k >= 1 && k <= kMaxBranches, "branching: 1..", kMaxBranches, " branches, asked for ", k);
  std::vector<uint64_t> seeds;
  for (int i = 0; i < k; ++i) seeds.push_back(seed + static_cast<uint64_t>(i));
  return seeds;
}

ActionTensor perturb_actions(const ActionSpec& spec, const ActionTensor& actions, uint64_t seed, int64_t block) {
  const int A = spec.width();
  WL_CHECK(actions.dims == A && actions.values.size() == static_cast<size_t>(actions.frames) * A, "branching: actions [",
           actions.frames, ", ", actions.dims, "] do not fit the ", spec.world, " spec (", A, " dims)");
  ActionTensor out = actions;
  for (int a = 0; a < A; ++a) {
    const ActionDim& d = spec.dims[a];
    const double u = uniform(seed, static_cast<uint64_t>(block), static_cast<uint64_t>(a));
    for (int t = 0; t < out.frames; ++t) {
      float& v = out.row(t)[a];
      switch (d.kind) {
        case ActionKind::Binary:
          if (u < 0.125) v = v > 0.5f * (d.min + d.max) ? d.min : d.max;
          break;
        case ActionKind::Continuous: v += static_cast<float>((2 * u - 1) * 0.5 * (d.max - d.min)); break;
        case ActionKind::Discrete: v += static_cast<float>(std::round((2 * u - 1) * 0.25 * (d.max - d.min))); break;
      }
      v = std::clamp(v, d.min, d.max);
    }
  }
  return out;
}

void write_scaled(const Session& session, const at::Tensor& frame, const FrameTarget& target, int x, int y, int width,
                  int height) {
  WL_CHECK(x >= 0 && y >= 0 && width > 0 && height > 0 && x + width <= target.width && y + height <= target.height,
           "view ", width, "x", height, " at (", x, ", ", y, ") does not fit the ", target.width, "x", target.height, " frame");
  at::Tensor f = frame.squeeze(2).to(at::kFloat);   // [1, 3, H, W]
  if (f.size(2) != height || f.size(3) != width) f = at::adaptive_avg_pool2d(f, {height, width});   // area average
  FrameTarget cell = target.region(x, y, width, height);   // a pointer offset, or a surface origin
  session.write_frame(VideoBlock{0, f.unsqueeze(2)}, 0, 0, cell);   // [1, 3, 1, h, w]
}

void write_grid(const Session& session, const VideoBlock& video, int64_t f, const FrameTarget& target) {
  const int64_t K = video.frames.size(0);
  // Black behind the cells: a frame far below the decoder's range packs to 0 (pack_rgba8 clamps).
  at::Tensor black = at::full({1, 3, 1, target.height, target.width}, -1e6, video.frames.options().dtype(at::kFloat));
  session.write_frame(VideoBlock{0, black}, 0, 0, target);
  std::vector<ViewRect> cells = view_grid(static_cast<int>(K), target.width, target.height);
  for (int64_t b = 0; b < K; ++b) {
    const ViewRect& c = cells[b];
    write_scaled(session, video.frames.narrow(0, b, 1).narrow(2, f, 1), target, c.x, c.y, c.width, c.height);
  }
}

// [SECTION] Branching

void Branching::request_fork(int k) {
  if (branches() > 0) return;
  fork_ = std::clamp(k, 2, kMaxBranches);
}

void Branching::request_continue(int i) {
  if (i >= 0 && i < branches()) continue_ = i;
}

void Branching::cancel() {
  seeds_.clear();
  fork_ = 0;
  continue_ = -1;
  blocks_ = 0;
}

int Branching::row_for(int64_t batch) const {
  if (batch == 1) return 0;
  return continue_ >= 0 ? continue_ : -1;
}

double Branching::apply(Session& session, std::string& message) {
  double factor = 1.0;
  if (continue_ >= 0) {
    const int K = branches(), i = continue_;
    session = session.branch(i);
    message = str("continued from branch ", i + 1, " of ", K, " (seed ", seeds_[i], ")");
    cancel();
    factor /= K;
  }
  if (fork_ > 0) {
    WL_CHECK(session.batch() == 1, "branching: fork of a session with ", session.batch(), " sequences (a bug)");
    seeds_ = branch_seeds(session.noise().front().seed(), fork_);
    session = session.fork(seeds_);
    message = str("branched into ", fork_, " futures (seeds ", seeds_.front(), "..", seeds_.back(),
                  "): press 1..", fork_, " or click one to continue");
    factor *= fork_;
    fork_ = 0;
    blocks_ = 0;
  }
  return factor;
}

std::vector<ActionTensor> Branching::actions_for_block(const ActionSpec& spec, const ActionTensor& actions, int steered) {
  if (branches() == 0) return {actions};
  steered = std::clamp(steered, 0, branches() - 1);
  std::vector<ActionTensor> rows;
  for (int i = 0; i < branches(); ++i)
    rows.push_back(i == steered ? actions : perturb_actions(spec, actions, seeds_[i], blocks_));
  ++blocks_;
  return rows;
}

}  // namespace wl
