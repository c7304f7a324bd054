// LinearDiT forward passes (see linear_dit.h). Tensor-producing lines carry their shapes:
// B batch, f latent frames after patching, gh x gw token grid, hw = gh * gw, N = f * hw tokens,
// D width, H heads, d head dim, F FFN width, L caption tokens.
#include "model/linear_dit.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "kernels/core/error.h"
#include "model/linear_attention.h"
#include "model/rope.h"

namespace wl {

namespace {

// [SECTION] weights, regrouped per block for the forward

struct BlockWeights {
  at::Tensor scale_shift;                      // [6, D]
  at::Tensor qkv, q_norm, k_norm, proj_w, proj_b;
  at::Tensor cq_w, cq_b, ckv_w, ckv_b, cq_norm, ck_norm, cproj_w, cproj_b;
  at::Tensor inv_w, inv_b;                     // [2F, D], [2F]
  at::Tensor dw_w, dw_b;                       // [2F, 1, 3, 3], [2F]
  at::Tensor point_w;                          // [D, F]
  at::Tensor t_prev, t_mid, t_next;            // [D, D]: temporal conv taps for frames t-1, t, t+1
};

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, float eps) {
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return normed.to(x.scalar_type()) * weight;
}

at::Tensor layer_norm(const at::Tensor& x, float eps) { return at::layer_norm(x, {x.size(-1)}, {}, {}, eps); }

// Sinusoidal timestep embedding, cos first: t [...] -> [..., dim] float32.
at::Tensor timestep_sinusoid(const at::Tensor& t, int dim) {
  const int half = dim / 2;
  at::Tensor freqs = at::exp(-std::log(10000.0) * at::arange(half, t.options().dtype(at::kFloat)) / half);
  at::Tensor args = t.to(at::kFloat).unsqueeze(-1) * freqs;   // [..., half]
  return at::cat({at::cos(args), at::sin(args)}, -1);
}

enum class Attention { Bidirectional, WithState, Chunked };

// `t` [b, ...] made [B, ...] for a batch whose row i reads t's row i % b (b divides B).
at::Tensor batch_rows(const at::Tensor& t, int64_t B) {
  const int64_t b = t.size(0);
  if (b == B) return t;
  if (b == 1) {
    std::vector<int64_t> sizes = t.sizes().vec();
    sizes[0] = B;
    return t.expand(sizes);
  }
  std::vector<int64_t> repeats(t.dim(), 1);
  repeats[0] = B / b;
  return t.repeat(repeats);
}

}  // namespace

struct LinearDiT::Impl {
  DiTConfig config;
  TensorMap weights;                 // official names, device + dtype
  at::TensorOptions options;         // model dtype and device
  std::vector<BlockWeights> blocks;

  const at::Tensor& w(const std::string& name) const {
    auto it = weights.find(name);
    WL_CHECK(it != weights.end(), "LinearDiT has no weight '", name, "'");
    return it->second;
  }

  bool trainable = false;            // set_trainable(): blocks are rebuilt as views at every forward

  void build_blocks() { blocks = make_blocks(/*contiguous=*/true); }

  // Per-block weights. contiguous=false keeps every one a view of weights (so autograd reaches the
  // leaves and optimizer updates show through); true copies the temporal-conv taps once (inference).
  std::vector<BlockWeights> make_blocks(bool contiguous) const {
    std::vector<BlockWeights> out;
    const int64_t D = config.hidden, F = config.ffn_hidden;
    auto tap = [&](const at::Tensor& t_conv, int k) {
      at::Tensor t = t_conv.select(2, k).squeeze(-1);   // [D, D]
      return contiguous ? t.contiguous() : t;
    };
    for (int i = 0; i < config.depth; ++i) {
      std::string b = str("blocks.", i, ".");
      BlockWeights bw;
      bw.scale_shift = w(b + "scale_shift_table");
      bw.qkv = w(b + "attn.qkv.weight");
      bw.q_norm = w(b + "attn.q_norm.weight");
      bw.k_norm = w(b + "attn.k_norm.weight");
      bw.proj_w = w(b + "attn.proj.weight");
      bw.proj_b = w(b + "attn.proj.bias");
      bw.cq_w = w(b + "cross_attn.q_linear.weight");
      bw.cq_b = w(b + "cross_attn.q_linear.bias");
      bw.ckv_w = w(b + "cross_attn.kv_linear.weight");
      bw.ckv_b = w(b + "cross_attn.kv_linear.bias");
      bw.cq_norm = w(b + "cross_attn.q_norm.weight");
      bw.ck_norm = w(b + "cross_attn.k_norm.weight");
      bw.cproj_w = w(b + "cross_attn.proj.weight");
      bw.cproj_b = w(b + "cross_attn.proj.bias");
      bw.inv_w = w(b + "mlp.inverted_conv.conv.weight").view({2 * F, D});
      bw.inv_b = w(b + "mlp.inverted_conv.conv.bias");
      bw.dw_w = w(b + "mlp.depth_conv.conv.weight");
      bw.dw_b = w(b + "mlp.depth_conv.conv.bias");
      bw.point_w = w(b + "mlp.point_conv.conv.weight").view({D, F});
      const at::Tensor& t_conv = w(b + "mlp.t_conv.weight");   // [D, D, 3, 1]
      bw.t_prev = tap(t_conv, 0);
      bw.t_mid = tap(t_conv, 1);
      bw.t_next = tap(t_conv, 2);
      out.push_back(std::move(bw));
    }
    return out;
  }

  // The block weights a forward uses: the stored ones, or fresh views of the leaves when training.
  const std::vector<BlockWeights>& blocks_for_forward(std::vector<BlockWeights>& scratch) const {
    if (!trainable) return blocks;
    scratch = make_blocks(/*contiguous=*/false);
    return scratch;
  }

  // Everything a forward shares, whichever attention mode it uses.
  at::Tensor run(const DiTStep& step, const CaptionContext& caption, Attention mode, WorldState* state, bool commit,
                 const std::vector<int64_t>* chunks) const;
  at::Tensor self_attention(const BlockWeights& bw, int layer, const at::Tensor& h, int64_t f, int64_t hw,
                            const at::Tensor& cos, const at::Tensor& sin, Attention mode, WorldState* state,
                            const std::vector<int64_t>* chunks, LinearAttentionResult& blk) const;
  at::Tensor mix_ffn(const BlockWeights& bw, const at::Tensor& h, int64_t f, int64_t gh, int64_t gw, const at::Tensor& prev,
                     const std::vector<int64_t>* chunks, at::Tensor& last_frame) const;
};

// [SECTION] construction

LinearDiT::LinearDiT(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LinearDiT::~LinearDiT() = default;
LinearDiT::LinearDiT(LinearDiT&&) noexcept = default;
LinearDiT& LinearDiT::operator=(LinearDiT&&) noexcept = default;

LinearDiT::LinearDiT(const DiTCheckpoint& checkpoint, const DiTOptions& options) : impl_(std::make_unique<Impl>()) {
  checkpoint.config.validate();
  check_dit_tensors(checkpoint.tensors, checkpoint.config, checkpoint.source);
  at::Device device(options.device);
  WL_CHECK(!device.is_cuda() || at::hasCUDA(), "device '", options.device, "' asked for, but this build or machine has no CUDA");
  impl_->config = checkpoint.config;
  impl_->options = at::TensorOptions().device(device).dtype(options.bf16 ? at::kBFloat16 : at::kFloat);
  for (const auto& [name, t] : checkpoint.tensors) impl_->weights[name] = t.to(impl_->options).contiguous();
  impl_->build_blocks();
}

TensorMap random_dit_weights(const DiTConfig& config, uint64_t seed, bool training_init) {
  config.validate();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  TensorMap out;
  for (const auto& [name, shape] : expected_dit_shapes(config)) {
    at::Tensor t;
    bool is_bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    bool is_norm = name.find("norm") != std::string::npos;
    if (name.find("scale_shift_table") != std::string::npos) {
      t = at::randn(shape, gen, at::kFloat) / std::sqrt(static_cast<double>(config.hidden));
    } else if (is_norm) {
      t = training_init ? at::ones(shape, at::kFloat) : 1.0 + 0.1 * at::randn(shape, gen, at::kFloat);
    } else if (is_bias) {
      t = training_init ? at::zeros(shape, at::kFloat) : 0.1 * at::randn(shape, gen, at::kFloat);
    } else {
      int64_t fan_in = 1;
      for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
      t = at::randn(shape, gen, at::kFloat) / std::sqrt(static_cast<double>(fan_in));
    }
    // Training starts these at zero so a new model is the identity there (official t_conv init; the
    // action embedder's last layer as SANA-WM's).
    if (training_init && (name.find("mlp.t_conv") != std::string::npos || name.rfind("action_embedder.mlp.2", 0) == 0))
      t.zero_();
    out[name] = t;
  }
  return out;
}

LinearDiT LinearDiT::random(const DiTConfig& config, uint64_t seed, const DiTOptions& options) {
  DiTCheckpoint ckpt;
  ckpt.config = config;
  ckpt.tensors = random_dit_weights(config, seed, /*training_init=*/true);
  ckpt.dialect = "random";
  ckpt.source = str("random weights (seed ", seed, ")");
  return LinearDiT(ckpt, options);
}

const DiTConfig& LinearDiT::config() const { return impl_->config; }
const TensorMap& LinearDiT::weights() const { return impl_->weights; }

void LinearDiT::set_trainable(bool trainable) {
  Impl& m = *impl_;
  for (auto& [name, t] : m.weights) {
    // A fresh leaf: the constructor's weights may alias the checkpoint's tensors (to() returns its
    // input when nothing changes), which training must never write into.
    at::Tensor leaf = t.detach().clone();
    leaf.set_requires_grad(trainable);
    t = leaf;
  }
  m.trainable = trainable;
  m.blocks = m.make_blocks(/*contiguous=*/!trainable);
}

bool LinearDiT::trainable() const { return impl_->trainable; }

std::vector<at::Tensor> LinearDiT::parameters() const {
  std::vector<at::Tensor> out;
  for (const auto& [_, t] : impl_->weights) out.push_back(t);
  return out;
}

int64_t LinearDiT::parameter_count() const {
  int64_t n = 0;
  for (const auto& [_, t] : impl_->weights) n += t.numel();
  return n;
}

WorldState LinearDiT::new_state(int64_t batch, int64_t latent_h, int64_t latent_w, StatePolicy policy) const {
  const auto& c = impl_->config;
  WL_CHECK(latent_h % c.patch[1] == 0 && latent_w % c.patch[2] == 0, "latent grid ", latent_h, "x", latent_w,
           " is not a multiple of the patch ", c.patch[1], "x", c.patch[2]);
  WorldState state(c, policy, batch, latent_h / c.patch[1], latent_w / c.patch[2], at::empty({0}, impl_->options));
  state.rebase_limit = c.rope_max_frames;
  return state;
}

// [SECTION] caption

CaptionContext LinearDiT::encode_caption(const at::Tensor& caption, const at::Tensor& mask,
                                         const std::function<void(const std::string&, const at::Tensor&)>& trace) const {
  const Impl& m = *impl_;
  const auto& c = m.config;
  WL_CHECK(caption.dim() == 3 && caption.size(2) == c.caption_channels, "caption embeddings should be [B, L, ",
           c.caption_channels, "], got ", caption.sizes());
  WL_CHECK(mask.dim() == 2 && mask.size(0) == caption.size(0) && mask.size(1) == caption.size(1), "caption mask should be [",
           caption.size(0), ", ", caption.size(1), "], got ", mask.sizes());
  const int64_t B = caption.size(0), L = caption.size(1), H = c.heads, d = c.head_dim;
  at::Tensor y = caption.to(m.options);
  y = at::linear(at::gelu(at::linear(y, m.w("y_embedder.y_proj.fc1.weight"), m.w("y_embedder.y_proj.fc1.bias")), "tanh"),
                 m.w("y_embedder.y_proj.fc2.weight"), m.w("y_embedder.y_proj.fc2.bias"));   // [B, L, D]
  if (trace) trace("caption_projection", y);
  y = rms_norm(y, m.w("attention_y_norm.weight"), c.caption_norm_eps);                      // [B, L, D]
  if (trace) trace("caption_norm", y);
  CaptionContext ctx;
  std::vector<BlockWeights> scratch;
  for (const auto& bw : m.blocks_for_forward(scratch)) {
    auto kv = at::linear(y, bw.ckv_w, bw.ckv_b).chunk(2, -1);                               // 2 x [B, L, D]
    at::Tensor k = rms_norm(kv[0], bw.ck_norm, c.cross_norm_eps);
    ctx.keys.push_back(k.view({B, L, H, d}).transpose(1, 2).contiguous());                  // [B, H, L, d]
    ctx.values.push_back(kv[1].reshape({B, L, H, d}).transpose(1, 2).contiguous());         // [B, H, L, d]
  }
  ctx.bias = ((1.0 - mask.to(m.options)) * -10000.0).view({B, 1, 1, L});                   // [B, 1, 1, L]
  return ctx;
}

// [SECTION] forward

at::Tensor LinearDiT::forward(const DiTStep& step, const CaptionContext& caption) const {
  return impl_->run(step, caption, Attention::Bidirectional, nullptr, false, nullptr);
}

at::Tensor LinearDiT::forward(const DiTStep& step, const CaptionContext& caption, WorldState& state, bool commit) const {
  return impl_->run(step, caption, Attention::WithState, &state, commit, nullptr);
}

at::Tensor LinearDiT::forward_chunked(const DiTStep& step, const CaptionContext& caption, const std::vector<int64_t>& chunks) const {
  return impl_->run(step, caption, Attention::Chunked, nullptr, false, &chunks);
}

at::Tensor LinearDiT::Impl::run(const DiTStep& step, const CaptionContext& caption, Attention mode, WorldState* state,
                                bool commit, const std::vector<int64_t>* chunks) const {
  const auto& c = config;
  const at::Tensor& latents = step.latents;
  WL_CHECK(latents.defined() && latents.dim() == 5 && latents.size(1) == c.in_channels, "latents should be [B, ",
           c.in_channels, ", T, H, W], got ", latents.defined() ? latents.sizes() : at::IntArrayRef{});
  const int64_t B = latents.size(0), T = latents.size(2);
  WL_CHECK(T % c.patch[0] == 0 && latents.size(3) % c.patch[1] == 0 && latents.size(4) % c.patch[2] == 0, "latents ",
           latents.sizes(), " are not a multiple of the patch ", c.patch[0], "x", c.patch[1], "x", c.patch[2]);
  const int64_t f = T / c.patch[0], gh = latents.size(3) / c.patch[1], gw = latents.size(4) / c.patch[2];
  const int64_t hw = gh * gw, N = f * hw, D = c.hidden;
  WL_CHECK(static_cast<int64_t>(caption.keys.size()) == c.depth, "caption context was made for another model (",
           caption.keys.size(), " blocks, this model has ", c.depth, ")");
  WL_CHECK(B % caption.bias.size(0) == 0, "caption batch ", caption.bias.size(0), " does not divide the latent batch ", B);
  if (state) {
    WL_CHECK((state->batch() == B || (!commit && B % state->batch() == 0)) && state->grid_h() == gh &&
                 state->grid_w() == gw,
             "world state is for batch ", state->batch(), " and a ", state->grid_h(), "x", state->grid_w(),
             " token grid; this block has batch ", B, " and ", gh, "x", gw,
             commit ? " (a commit needs the state's batch)" : " (a look needs a multiple of the state's batch)");
    WL_CHECK(state->empty() || step.first_frame == state->next_frame(), "block starts at frame ", step.first_frame,
             " but the world state continues at frame ", state->next_frame());
  }
  if (chunks) {
    int64_t total = 0;
    for (int64_t n : *chunks) {
      WL_CHECK(n > 0, "chunk sizes must be positive");
      total += n;
    }
    WL_CHECK(total == f, "chunks cover ", total, " latent frames, the input has ", f);
  }

  // Timesteps, one per frame: [B] or [B, T] -> [B, f], truncated to integers as the official model.
  at::Tensor t = step.timestep.to(latents.device()).to(at::kFloat);
  if (t.dim() == 1) {
    WL_CHECK(t.size(0) == B, "timestep should be [B] or [B, T] with B = ", B, ", got ", t.sizes());
    t = t.unsqueeze(1).expand({B, f});
  } else {
    WL_CHECK(t.dim() == 2 && t.size(0) == B && t.size(1) == T && c.patch[0] == 1, "timestep should be [B] or [B, T] = [", B,
             ", ", T, "], got ", t.sizes());
  }
  t = t.to(at::kLong).to(at::kFloat);
  at::Tensor temb = timestep_sinusoid(t, c.freq_dim).to(options);                          // [B, f, 256]
  temb = at::linear(at::silu(at::linear(temb, w("t_embedder.mlp.0.weight"), w("t_embedder.mlp.0.bias"))),
                    w("t_embedder.mlp.2.weight"), w("t_embedder.mlp.2.bias"));               // [B, f, D]
  if (c.action_dims > 0) {
    WL_CHECK(step.actions.defined(), "this model is action-conditioned (", c.action_dims,
             " action dims per frame) but no actions were given");
    WL_CHECK(step.actions.dim() == 3 && step.actions.size(0) == B && step.actions.size(1) == T &&
                 step.actions.size(2) == c.action_dims,
             "actions should be [B, T, A] = [", B, ", ", T, ", ", c.action_dims, "], got ", step.actions.sizes());
    at::Tensor a = step.actions.to(options);
    a = at::linear(at::silu(at::linear(a, w("action_embedder.mlp.0.weight"), w("action_embedder.mlp.0.bias"))),
                   w("action_embedder.mlp.2.weight"), w("action_embedder.mlp.2.bias"));      // [B, f, D]
    if (step.action_keep.defined()) {
      at::Tensor keep = step.action_keep.to(options);
      WL_CHECK((keep.dim() == 1 && keep.size(0) == B) || (keep.dim() == 2 && keep.size(0) == B && keep.size(1) == T && c.patch[0] == 1),
               "action_keep should be [B] or [B, T] = [", B, ", ", T, "], got ", keep.sizes());
      a = a * (keep.dim() == 1 ? keep.view({B, 1, 1}) : keep.unsqueeze(2));
    }
    temb = temb + a;
  } else {
    WL_CHECK(!step.actions.defined(), "this model has no action embedder; it cannot take actions (got ",
             step.actions.sizes(), ")");
  }
  at::Tensor t0 = at::linear(at::silu(temb), w("t_block.1.weight"), w("t_block.1.bias"));   // [B, f, 6D]
  if (step.trace) {
    step.trace("time_embed.timestep", t0);
    step.trace("time_embed.embedded_timestep", temb);
  }

  // RoPE positions: absolute frames, relative to the state's base when there is a state.
  int64_t first_position = step.first_frame;
  if (state) {
    state->prepare_positions(step.first_frame, f);
    first_position = step.first_frame - state->frame_base();
  }
  at::Tensor cos, sin;
  rope_tables(c, first_position, f, gh, gw, cos, sin);                                     // [N, d/2]
  cos = cos.to(latents.device());
  sin = sin.to(latents.device());

  at::Tensor x = at::conv3d(latents.to(options), w("x_embedder.proj.weight"), w("x_embedder.proj.bias"),
                            {c.patch[0], c.patch[1], c.patch[2]});                          // [B, D, f, gh, gw]
  x = x.flatten(2).transpose(1, 2).contiguous();                                           // [B, N, D]
  if (step.trace) step.trace("patch_embedding", x);

  std::vector<BlockWeights> scratch;
  const std::vector<BlockWeights>& block_weights = blocks_for_forward(scratch);
  for (int i = 0; i < c.depth; ++i) {
    const BlockWeights& bw = block_weights[i];
    auto mods = (bw.scale_shift.view({1, 1, 6, D}) + t0.view({B, f, 6, D})).unsqueeze(2);   // [B, f, 1, 6, D]
    auto mod = [&](int k) { return mods.select(3, k); };                                   // [B, f, 1, D]
    auto frames = [&](const at::Tensor& v) { return v.view({B, f, hw, D}); };

    at::Tensor h = (frames(layer_norm(x, c.norm_eps)) * (1 + mod(1)) + mod(0)).view({B, N, D});
    LinearAttentionResult blk;
    at::Tensor attn = self_attention(bw, i, h, f, hw, cos, sin, mode, state, chunks, blk);  // [B, N, D]
    x = x + (frames(attn) * mod(2)).view({B, N, D});

    at::Tensor q = rms_norm(at::linear(x, bw.cq_w, bw.cq_b), bw.cq_norm, c.cross_norm_eps);
    q = q.view({B, N, c.heads, c.head_dim}).transpose(1, 2);                               // [B, H, N, d]
    const at::Tensor& K = caption.keys[i];
    const at::Tensor& V = caption.values[i];
    at::Tensor cross = at::scaled_dot_product_attention(q, batch_rows(K, B), batch_rows(V, B),
                                                        batch_rows(caption.bias, B).to(q.scalar_type()));
    cross = at::linear(cross.transpose(1, 2).reshape({B, N, D}), bw.cproj_w, bw.cproj_b);   // [B, N, D]
    x = x + cross;

    h = (frames(layer_norm(x, c.norm_eps)) * (1 + mod(4)) + mod(3)).view({B, N, D});
    at::Tensor prev = state ? batch_rows(state->conv(i), B) : at::Tensor();
    at::Tensor last_frame;
    at::Tensor ff = mix_ffn(bw, h, f, gh, gw, prev, chunks, last_frame);                    // [B, N, D]
    x = x + (frames(ff) * mod(5)).view({B, N, D});

    if (state && commit) state->commit_layer(i, blk.S_blk, blk.z_blk, last_frame);
    if (step.trace) step.trace(str("transformer_blocks.", i), x);
  }
  if (state && commit) state->finish_commit(step.first_frame, f);

  auto final_mods = w("final_layer.scale_shift_table").view({1, 1, 2, D}) + temb.unsqueeze(2);   // [B, f, 2, D]
  at::Tensor shift = final_mods.select(2, 0).unsqueeze(2), scale = final_mods.select(2, 1).unsqueeze(2);
  at::Tensor h = layer_norm(x, c.norm_eps).view({B, f, hw, D}) * (1 + scale) + shift;     // [B, f, hw, D]
  if (step.trace) step.trace("norm_out", h.view({B, N, D}));
  at::Tensor out = at::linear(h, w("final_layer.linear.weight"), w("final_layer.linear.bias"));   // [B, f, hw, P*C]
  if (step.trace) step.trace("proj_out", out.view({B, N, -1}));
  out = out.view({B, f, gh, gw, c.patch[0], c.patch[1], c.patch[2], c.out_channels});
  return out.permute({0, 7, 1, 4, 2, 5, 3, 6})
      .reshape({B, c.out_channels, f * c.patch[0], gh * c.patch[1], gw * c.patch[2]});   // [B, C, T, Hl, Wl]
}

at::Tensor LinearDiT::Impl::self_attention(const BlockWeights& bw, int layer, const at::Tensor& h, int64_t f, int64_t hw,
                                           const at::Tensor& cos, const at::Tensor& sin, Attention mode, WorldState* state,
                                           const std::vector<int64_t>* chunks, LinearAttentionResult& blk) const {
  const auto& c = config;
  const int64_t B = h.size(0), N = h.size(1), H = c.heads, d = c.head_dim;
  auto qkv = at::linear(h, bw.qkv).chunk(3, -1);                                           // 3 x [B, N, D]
  auto heads = [&](const at::Tensor& x) { return x.reshape({B, N, H, d}).transpose(1, 2); };   // [B, H, N, d]
  at::Tensor q = at::relu(heads(rms_norm(qkv[0], bw.q_norm, c.qk_norm_eps)));
  at::Tensor k = at::relu(heads(rms_norm(qkv[1], bw.k_norm, c.qk_norm_eps)));
  at::Tensor v = heads(qkv[2]);
  at::Tensor qr = apply_rope(q, cos, sin), kr = apply_rope(k, cos, sin);                   // [B, H, N, d]
  at::Tensor out;
  if (mode == Attention::Chunked) {
    std::vector<int64_t> chunk_tokens;
    for (int64_t frames : *chunks) chunk_tokens.push_back(frames * hw);
    out = linear_attention_chunked(q, k, qr, kr, v, chunk_tokens, c.linear_attn_eps);
  } else {
    at::Tensor S_prev = state ? batch_rows(state->S(layer), B) : at::Tensor();
    at::Tensor z_prev = state ? batch_rows(state->z(layer), B) : at::Tensor();
    blk = linear_attention(q, k, qr, kr, v, S_prev, z_prev, c.linear_attn_eps);
    out = blk.out;
  }
  out = out.to(options).transpose(1, 2).reshape({B, N, H * d});                            // [B, N, D]
  return at::linear(out, bw.proj_w, bw.proj_b);
}

at::Tensor LinearDiT::Impl::mix_ffn(const BlockWeights& bw, const at::Tensor& h, int64_t f, int64_t gh, int64_t gw,
                                    const at::Tensor& prev, const std::vector<int64_t>* chunks, at::Tensor& last_frame) const {
  const int64_t B = h.size(0), D = config.hidden, F = config.ffn_hidden, hw = gh * gw;
  at::Tensor a = at::silu(at::linear(h, bw.inv_w, bw.inv_b));                               // [B, N, 2F]
  a = a.view({B * f, gh, gw, 2 * F}).permute({0, 3, 1, 2});                               // [B*f, 2F, gh, gw]
  a = at::conv2d(a, bw.dw_w, bw.dw_b, 1, 1, 1, 2 * F).permute({0, 2, 3, 1});              // [B*f, gh, gw, 2F]
  auto parts = a.chunk(2, -1);
  at::Tensor z = at::linear(parts[0] * at::silu(parts[1]), bw.point_w).view({B, f, hw, D});   // [B, f, hw, D]

  // Temporal conv (3, 1) as three taps; frame t sees t-1 (the state's last frame before the first)
  // and t+1 (zero past the end of its block or chunk: no look-ahead across blocks).
  at::Tensor before = prev.defined() ? prev.view({B, 1, hw, D}).to(z.scalar_type()) : at::zeros({B, 1, hw, D}, z.options());
  at::Tensor z_prev = at::cat({before, z.narrow(1, 0, f - 1)}, 1);                          // [B, f, hw, D]
  at::Tensor z_next = at::cat({z.narrow(1, 1, f - 1), at::zeros({B, 1, hw, D}, z.options())}, 1);
  if (chunks) {
    at::Tensor keep = at::ones({1, f, 1, 1}, z.options());
    int64_t end = 0;
    for (int64_t n : *chunks) {
      end += n;
      keep[0][end - 1] = 0;   // a chunk's last frame has no next frame
    }
    z_next = z_next * keep;
  }
  at::Tensor out = z + at::linear(z_prev, bw.t_prev) + at::linear(z, bw.t_mid) + at::linear(z_next, bw.t_next);
  last_frame = z.select(1, f - 1);                                                          // [B, hw, D]
  return out.view({B, f * hw, D});
}

}  // namespace wl
