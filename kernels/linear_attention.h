// linear_attention_cpu: the spec of SANA-Video's ReLU linear attention with RoPE in the numerator,
// as naive fp32 loops (llm.c style) that the LibTorch module is tested against.
//   inputs q, k, v [N, H, d] (q and k after RMSNorm, before ReLU), cos/sin [N, d/2] (RoPE angles of
//   each token; pair (2i, 2i+1) rotates by angle i), `visible(n, m)`: may query n see key m
//   O_n = sum_m v_m <R_m relu(k_m), R_n relu(q_n)> / (<relu(q_n), sum_m relu(k_m)> + eps)
// Quadratic in N on purpose: it shares nothing with the linear-time factorisation it checks.
#pragma once

#include <cstdint>
#include <functional>

namespace wl {

void linear_attention_cpu(const float* q, const float* k, const float* v, const float* cos, const float* sin, int64_t N,
                          int64_t H, int64_t d, float eps, const std::function<bool(int64_t n, int64_t m)>& visible,
                          float* out);

}  // namespace wl
