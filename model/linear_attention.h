// ReLU linear attention with RoPE in the numerator only (SANA-Video's LiteLAReLURope):
//   O_n = [sum_m v_m (R_m phi(k_m))^T] (R_n phi(q_n)) / (phi(q_n) . sum_m phi(k_m) + eps),  phi = ReLU
// computed in float32 whatever the model dtype (the official fp32_attention). The sums over m are
// the block's own S_blk = V^T R(K), z_blk = sum_m phi(k_m), plus what a WorldState carries from
// earlier blocks. The chunked form does the same for a whole sequence at once, each chunk seeing
// itself and every earlier chunk (cumulative sums), which is how the block-causal model trains.
// The spec these are tested against is kernels/linear_attention.h (naive loops).
// Callers: model/linear_dit.cpp.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace wl {

struct LinearAttentionResult {
  at::Tensor out;     // [B, H, N, d] float32
  at::Tensor S_blk;   // [B, H, d, d] float32: this block's sum of v (R phi(k))^T
  at::Tensor z_blk;   // [B, H, 1, d] float32: this block's sum of phi(k)
};

// q, k: [B, H, N, d] after ReLU (un-rotated); qr, kr: the same rotated; v: [B, H, N, d].
// S_prev, z_prev: the state's totals, or undefined tensors for none.
LinearAttentionResult linear_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& qr, const at::Tensor& kr,
                                       const at::Tensor& v, const at::Tensor& S_prev, const at::Tensor& z_prev, float eps);

// Chunk-causal over the token axis: chunk_tokens sums to N. Returns out [B, H, N, d] float32.
at::Tensor linear_attention_chunked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& qr, const at::Tensor& kr,
                                    const at::Tensor& v, const std::vector<int64_t>& chunk_tokens, float eps);

}  // namespace wl
