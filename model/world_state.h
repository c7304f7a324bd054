// WorldState: the model's whole memory of the past, constant in size however long a session runs.
// Per transformer layer (SANA-Video's block-causal linear attention, LongSANA's cache):
//   S     [B, H, d, d] fp32  sum over committed blocks of v * RoPE(phi(k))^T
//   z     [B, H, 1, d] fp32  sum over committed blocks of phi(k)
//   conv  [B, h*w, D]        the last latent frame of the Mix-FFN point-conv output (temporal conv
//                            left context for the next block)
// Which committed blocks count is the policy: `global` (all), `window:N` (the last N), or
// `sink+window:N` (the first block plus the last N). Window policies keep each block's own
// contribution in a ring of N slots, so memory stays constant for every policy.
//
// Positions: RoPE positions are absolute frame indices minus `frame_base`. Because attention's
// numerator depends only on relative positions, moving the base by delta is exact if every stored S
// is rotated too: with R_p the RoPE rotation at position p, S = sum v (R_m k)^T, and
//   S R_{-delta}^T R_{n - delta} q = S R_delta R_{n - delta} q = S R_n q,
// so S' = S R_{-delta}^T (rotate each row of S by -delta on the temporal pairs) keeps every output
// while positions restart near 0. rebase() does this before a block would pass `rebase_limit`,
// which makes sessions unbounded (the official model stops at 1024 latent frames).
// Callers: LinearDiT (read and commit per layer), the sampler and the frame loop (reset, snapshot).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/dit_config.h"

namespace at {
class Tensor;
}

namespace wl {

struct StatePolicy {
  enum class Kind { Global, Window, SinkWindow };
  Kind kind = Kind::Global;
  int window = 0;                      // N for Window and SinkWindow
  // "global", "window:N", "sink+window:N"; throws wl::Error naming the accepted forms.
  static StatePolicy parse(const std::string& text);
  std::string name() const;
};

class WorldState {
 public:
  struct Layer;

  // Every tensor is allocated here, zero-filled, so the size never changes; `like` gives the
  // device and dtype of the conv cache (the model's). A zero state reads exactly as no state:
  // zero S and z add nothing, a zero conv frame is the official zero padding.
  WorldState(const DiTConfig& config, StatePolicy policy, int64_t batch, int64_t grid_h, int64_t grid_w,
             const at::Tensor& like);
  ~WorldState();
  WorldState(WorldState&&) noexcept;
  WorldState& operator=(WorldState&&) noexcept;
  WorldState(const WorldState&) = delete;
  WorldState& operator=(const WorldState&) = delete;
  WorldState clone() const;            // a deep copy (branching, snapshots)

  const StatePolicy& policy() const { return policy_; }
  int64_t batch() const { return batch_; }
  int64_t blocks_committed() const { return blocks_committed_; }
  int64_t next_frame() const { return next_frame_; }   // absolute index of the next block's first frame
  int64_t frame_base() const { return frame_base_; }   // absolute frame at RoPE temporal position 0
  bool empty() const { return blocks_committed_ == 0; }
  // Re-base when a block would reach this RoPE position (default: the official 1024 limit).
  int64_t rebase_limit = 1024;

  int64_t grid_h() const { return grid_h_; }
  int64_t grid_w() const { return grid_w_; }

  // Read by layer `i` during a forward: the totals and the conv cache.
  const at::Tensor& S(int layer) const;
  const at::Tensor& z(int layer) const;
  const at::Tensor& conv(int layer) const;
  // Stores layer `i`'s contribution of the block being committed (S_blk, z_blk, last frame).
  void commit_layer(int layer, const at::Tensor& S_blk, const at::Tensor& z_blk, const at::Tensor& conv_last);
  // Ends a commit of a block of `frames` latent frames starting at `first_frame`.
  void finish_commit(int64_t first_frame, int64_t frames);
  // Moves frame_base so that a block starting at `first_frame` and `frames` long stays inside
  // rebase_limit (exact, see above). Called by LinearDiT before each forward.
  void prepare_positions(int64_t first_frame, int64_t frames);

  // Bytes held by every tensor of the state (what the overlay shows; constant over a session).
  int64_t size_bytes() const;

  // Every tensor and counter under "state." names (counters as int64 scalars), for files
  // (`worldloop forward --state-out`, snapshots). load_tensors() checks that each name and shape
  // matches this state (same model, policy, batch and grid) and throws wl::Error naming the first
  // that does not; the state is unchanged when it throws.
  std::map<std::string, at::Tensor> to_tensors() const;
  void load_tensors(const std::map<std::string, at::Tensor>& tensors, const std::string& source);
 private:
  void rebase(int64_t delta);

  DiTConfig config_;
  StatePolicy policy_;
  int64_t batch_ = 0;
  int64_t grid_h_ = 0, grid_w_ = 0;
  int64_t blocks_committed_ = 0;
  int64_t next_frame_ = 0;
  int64_t frame_base_ = 0;
  std::vector<Layer> layers_;
};

}  // namespace wl
