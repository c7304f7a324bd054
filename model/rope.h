// 3D rotary position embedding of the SANA-Video DiT (WanRotaryPosEmbed): head dim d is split into
// t/h/w parts of d - 2*(2*(d/6)), 2*(d/6), 2*(d/6) channels (40/36/36 for d = 112); pair (2i, 2i+1)
// of every head is rotated by angle pos_axis * theta^(-2j/dim_axis) (interleaved pairs, the same
// for all heads). Angles are computed in float64 from the position itself, so any position works;
// the official table stops at 1024 frames, we do not (see WorldState's re-basing).
// Callers: model/linear_dit.cpp (queries and keys), model/world_state.cpp (re-basing S).
#pragma once

#include <cstdint>

namespace at {
class Tensor;
}

namespace wl {

struct DiTConfig;

// cos and sin [N, d/2] (float32) for the tokens of a (frames x grid_h x grid_w) block whose first
// frame sits at temporal position `first_frame` (row-major f, h, w token order).
void rope_tables(const DiTConfig& config, int64_t first_frame, int64_t frames, int64_t grid_h, int64_t grid_w,
                 at::Tensor& cos, at::Tensor& sin);

// Rotates interleaved pairs of the last dim of x [..., N, d] by angles (cos, sin) [N, d/2]; the
// result has x's dtype. Computed in float32.
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// cos and sin [d/2] that rotate only the temporal pairs by -delta frames (h and w pairs by 0): the
// rotation that re-bases positions by delta (see WorldState::rebase).
void rope_shift_tables(const DiTConfig& config, int64_t delta, at::Tensor& cos, at::Tensor& sin);

}  // namespace wl
