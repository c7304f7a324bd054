// WorldState storage, policies and exact RoPE re-basing (see world_state.h).
#include "model/world_state.h"

#include <ATen/ATen.h>

#include "kernels/core/error.h"
#include "model/rope.h"

namespace wl {

struct WorldState::Layer {
  at::Tensor S, z;                        // totals read by the layer: [B, H, d, d], [B, H, 1, d] fp32
  at::Tensor conv;                        // [B, h*w, D] model dtype
  std::vector<at::Tensor> ring_S, ring_z; // window policies: one block's contribution per slot
  at::Tensor sink_S, sink_z;              // sink+window: the first block's contribution
};

StatePolicy StatePolicy::parse(const std::string& text) {
  StatePolicy p;
  auto number = [&](const std::string& digits) {
    WL_CHECK(!digits.empty() && digits.size() < 7 && digits.find_first_not_of("0123456789") == std::string::npos,
             "state policy '", text, "': window size must be a positive integer");
    int n = std::stoi(digits);
    WL_CHECK(n > 0, "state policy '", text, "': window size must be at least 1");
    return n;
  };
  if (text == "global") return p;
  if (text.rfind("window:", 0) == 0) {
    p.kind = Kind::Window;
    p.window = number(text.substr(7));
    return p;
  }
  if (text.rfind("sink+window:", 0) == 0) {
    p.kind = Kind::SinkWindow;
    p.window = number(text.substr(12));
    return p;
  }
  WL_FAIL("unknown state policy '", text, "'; expected global, window:N or sink+window:N");
}

std::string StatePolicy::name() const {
  switch (kind) {
    case Kind::Global: return "global";
    case Kind::Window: return str("window:", window);
    case Kind::SinkWindow: return str("sink+window:", window);
  }
  return "?";
}

WorldState::WorldState(const DiTConfig& config, StatePolicy policy, int64_t batch, int64_t grid_h, int64_t grid_w,
                       const at::Tensor& like)
    : config_(config), policy_(policy), batch_(batch), grid_h_(grid_h), grid_w_(grid_w) {
  WL_CHECK(batch > 0 && grid_h > 0 && grid_w > 0, "world state needs a positive batch and grid, got batch ", batch, ", grid ",
           grid_h, "x", grid_w);
  const int64_t H = config.heads, d = config.head_dim;
  auto f32 = at::TensorOptions().dtype(at::kFloat).device(like.device());
  layers_.resize(config.depth);
  for (auto& l : layers_) {
    l.S = at::zeros({batch, H, d, d}, f32);
    l.z = at::zeros({batch, H, 1, d}, f32);
    l.conv = at::zeros({batch, grid_h * grid_w, config.hidden}, like.options());
    if (policy.kind != StatePolicy::Kind::Global) {
      for (int i = 0; i < policy.window; ++i) {
        l.ring_S.push_back(at::zeros_like(l.S));
        l.ring_z.push_back(at::zeros_like(l.z));
      }
    }
    if (policy.kind == StatePolicy::Kind::SinkWindow) {
      l.sink_S = at::zeros_like(l.S);
      l.sink_z = at::zeros_like(l.z);
    }
  }
}

WorldState::~WorldState() = default;
WorldState::WorldState(WorldState&&) noexcept = default;
WorldState& WorldState::operator=(WorldState&&) noexcept = default;

WorldState WorldState::clone() const {
  WorldState out(config_, policy_, batch_, grid_h_, grid_w_, layers_.front().conv);
  out.blocks_committed_ = blocks_committed_;
  out.next_frame_ = next_frame_;
  out.frame_base_ = frame_base_;
  out.rebase_limit = rebase_limit;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& a = layers_[i];
    Layer& b = out.layers_[i];
    b.S.copy_(a.S);
    b.z.copy_(a.z);
    b.conv.copy_(a.conv);
    for (size_t k = 0; k < a.ring_S.size(); ++k) {
      b.ring_S[k].copy_(a.ring_S[k]);
      b.ring_z[k].copy_(a.ring_z[k]);
    }
    if (a.sink_S.defined()) {
      b.sink_S.copy_(a.sink_S);
      b.sink_z.copy_(a.sink_z);
    }
  }
  return out;
}

const at::Tensor& WorldState::S(int layer) const { return layers_.at(layer).S; }
const at::Tensor& WorldState::z(int layer) const { return layers_.at(layer).z; }
const at::Tensor& WorldState::conv(int layer) const { return layers_.at(layer).conv; }

void WorldState::commit_layer(int layer, const at::Tensor& S_blk, const at::Tensor& z_blk, const at::Tensor& conv_last) {
  Layer& l = layers_.at(layer);
  l.conv.copy_(conv_last);
  switch (policy_.kind) {
    case StatePolicy::Kind::Global:
      l.S.add_(S_blk);
      l.z.add_(z_blk);
      return;
    case StatePolicy::Kind::Window:
    case StatePolicy::Kind::SinkWindow: {
      bool sink = policy_.kind == StatePolicy::Kind::SinkWindow;
      if (sink && blocks_committed_ == 0) {
        l.sink_S.copy_(S_blk);
        l.sink_z.copy_(z_blk);
      } else {
        int64_t slot = (blocks_committed_ - (sink ? 1 : 0)) % policy_.window;
        l.ring_S[slot].copy_(S_blk);
        l.ring_z[slot].copy_(z_blk);
      }
      // Totals are re-summed rather than updated by subtraction, which would drift in fp32.
      if (sink) {
        l.S.copy_(l.sink_S);
        l.z.copy_(l.sink_z);
      } else {
        l.S.zero_();
        l.z.zero_();
      }
      for (size_t k = 0; k < l.ring_S.size(); ++k) {
        l.S.add_(l.ring_S[k]);
        l.z.add_(l.ring_z[k]);
      }
      return;
    }
  }
}

void WorldState::finish_commit(int64_t first_frame, int64_t frames) {
  WL_CHECK(blocks_committed_ == 0 || first_frame == next_frame_, "world state: blocks must be committed in order; expected a block at frame ",
           next_frame_, ", got one at frame ", first_frame);
  ++blocks_committed_;
  next_frame_ = first_frame + frames;
}

void WorldState::prepare_positions(int64_t first_frame, int64_t frames) {
  if (blocks_committed_ == 0) {
    if (first_frame + frames > rebase_limit) frame_base_ = first_frame;
    return;
  }
  WL_CHECK(first_frame >= frame_base_, "world state: a block at frame ", first_frame, " precedes the state's base frame ", frame_base_);
  if (first_frame + frames - frame_base_ > rebase_limit) rebase(first_frame - frame_base_);
}

void WorldState::rebase(int64_t delta) {
  at::Tensor cos, sin;
  rope_shift_tables(config_, delta, cos, sin);   // [1, d/2]: rotate temporal pairs by -delta
  auto rotate = [&](at::Tensor& S) { S.copy_(apply_rope(S, cos, sin)); };   // each row of S lives in k-space
  for (auto& l : layers_) {
    rotate(l.S);
    for (auto& r : l.ring_S) rotate(r);
    if (l.sink_S.defined()) rotate(l.sink_S);
  }
  frame_base_ += delta;
}

std::map<std::string, at::Tensor> WorldState::to_tensors() const {
  std::map<std::string, at::Tensor> out;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    std::string p = str("state.", i, ".");
    out[p + "S"] = l.S;
    out[p + "z"] = l.z;
    out[p + "conv"] = l.conv;
    for (size_t k = 0; k < l.ring_S.size(); ++k) {
      out[str(p, "ring.", k, ".S")] = l.ring_S[k];
      out[str(p, "ring.", k, ".z")] = l.ring_z[k];
    }
    if (l.sink_S.defined()) {
      out[p + "sink.S"] = l.sink_S;
      out[p + "sink.z"] = l.sink_z;
    }
  }
  out["state.blocks_committed"] = at::tensor(blocks_committed_, at::kLong);
  out["state.next_frame"] = at::tensor(next_frame_, at::kLong);
  out["state.frame_base"] = at::tensor(frame_base_, at::kLong);
  return out;
}

void WorldState::load_tensors(const std::map<std::string, at::Tensor>& tensors, const std::string& source) {
  std::map<std::string, at::Tensor> mine = to_tensors();
  for (const auto& [name, want] : mine) {
    auto it = tensors.find(name);
    WL_CHECK(it != tensors.end(), source, ": world state tensor '", name, "' is missing (policy ", policy_.name(), ")");
    WL_CHECK(it->second.sizes() == want.sizes(), source, ": world state tensor '", name, "' has shape ", it->second.sizes(),
             ", this model and policy need ", want.sizes());
  }
  for (const auto& [name, _] : tensors)
    WL_CHECK(name.rfind("state.", 0) != 0 || mine.count(name), source, ": unexpected world state tensor '", name,
             "' (saved with another policy or model?)");
  // Everything checked: now copy.
  for (auto& [name, dst] : mine)
    if (dst.dim() > 0) dst.copy_(tensors.at(name));
  blocks_committed_ = tensors.at("state.blocks_committed").item<int64_t>();
  next_frame_ = tensors.at("state.next_frame").item<int64_t>();
  frame_base_ = tensors.at("state.frame_base").item<int64_t>();
}

int64_t WorldState::size_bytes() const {
  int64_t bytes = 0;
  auto add = [&](const at::Tensor& t) {
    if (t.defined()) bytes += t.numel() * t.element_size();
  };
  for (const auto& l : layers_) {
    add(l.S);
    add(l.z);
    add(l.conv);
    for (const auto& r : l.ring_S) add(r);
    for (const auto& r : l.ring_z) add(r);
    add(l.sink_S);
    add(l.sink_z);
  }
  return bytes;
}

}  // namespace wl
