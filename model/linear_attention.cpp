// Linear attention, per block and chunk-causal (see linear_attention.h).
#include "model/linear_attention.h"

#include <ATen/ATen.h>

#include "kernels/core/error.h"

namespace wl {

LinearAttentionResult linear_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& qr, const at::Tensor& kr,
                                       const at::Tensor& v, const at::Tensor& S_prev, const at::Tensor& z_prev, float eps) {
  at::Tensor qf = q.to(at::kFloat), kf = k.to(at::kFloat);
  at::Tensor qrf = qr.to(at::kFloat), krf = kr.to(at::kFloat), vf = v.to(at::kFloat);
  LinearAttentionResult r;
  r.S_blk = at::matmul(vf.transpose(-1, -2), krf);   // [B, H, d(v), d(k)]
  r.z_blk = kf.sum(-2, /*keepdim=*/true);            // [B, H, 1, d]
  at::Tensor S = S_prev.defined() ? r.S_blk + S_prev : r.S_blk;
  at::Tensor z = z_prev.defined() ? r.z_blk + z_prev : r.z_blk;
  at::Tensor num = at::matmul(qrf, S.transpose(-1, -2));   // [B, H, N, d]
  at::Tensor den = at::matmul(qf, z.transpose(-1, -2));    // [B, H, N, 1]
  r.out = num / (den + eps);
  return r;
}

at::Tensor linear_attention_chunked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& qr, const at::Tensor& kr,
                                    const at::Tensor& v, const std::vector<int64_t>& chunk_tokens, float eps) {
  int64_t total = 0;
  for (int64_t n : chunk_tokens) total += n;
  WL_CHECK(total == q.size(-2), "chunked linear attention: chunks cover ", total, " tokens, the sequence has ", q.size(-2));
  at::Tensor qf = q.to(at::kFloat), kf = k.to(at::kFloat);
  at::Tensor qrf = qr.to(at::kFloat), krf = kr.to(at::kFloat), vf = v.to(at::kFloat);
  // Each chunk's own sums, stacked, then inclusive prefix sums over the chunk axis: chunk c sees
  // chunks 0..c. (Written independently of linear_attention(), which the state path uses, so that
  // the two paths check each other.)
  std::vector<at::Tensor> S_parts, z_parts;
  int64_t begin = 0;
  for (int64_t n : chunk_tokens) {
    S_parts.push_back(at::matmul(vf.narrow(-2, begin, n).transpose(-1, -2), krf.narrow(-2, begin, n)));   // [B, H, d, d]
    z_parts.push_back(kf.narrow(-2, begin, n).sum(-2, /*keepdim=*/true));                                // [B, H, 1, d]
    begin += n;
  }
  at::Tensor S = at::cumsum(at::stack(S_parts), 0), z = at::cumsum(at::stack(z_parts), 0);   // [chunks, B, H, ...]
  std::vector<at::Tensor> outs;
  begin = 0;
  for (size_t c = 0; c < chunk_tokens.size(); ++c) {
    int64_t n = chunk_tokens[c];
    at::Tensor num = at::matmul(qrf.narrow(-2, begin, n), S[c].transpose(-1, -2));   // [B, H, n, d]
    at::Tensor den = at::matmul(qf.narrow(-2, begin, n), z[c].transpose(-1, -2));    // [B, H, n, 1]
    outs.push_back(num / (den + eps));
    begin += n;
  }
  return at::cat(outs, -2);
}

}  // namespace wl
