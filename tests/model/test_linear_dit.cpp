// LinearDiT: the attention against the naive spec, block-by-block generation with the world state
// against one chunk-causal forward, constant state size, exact RoPE re-basing past 1024 frames,
// per-frame actions and timesteps, and the errors a user sees for bad inputs.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <fstream>

#include "kernels/core/error.h"
#include "kernels/linear_attention.h"
#include "model/linear_attention.h"
#include "model/linear_dit.h"
#include "model/rope.h"

namespace wl {
namespace {

// max |a - b| / max |b|: the normalised error used for attention-like outputs.
double rel_error(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>() /
         std::max(b.to(at::kDouble).abs().max().item<double>(), 1e-30);
}

LinearDiT tiny_model(int action_dims = 0, uint64_t seed = 7) {
  DiTConfig config = dit_preset("tiny");
  config.action_dims = action_dims;
  DiTCheckpoint ckpt;
  ckpt.config = config;
  ckpt.tensors = random_dit_weights(config, seed, /*training_init=*/false);
  ckpt.source = "test";
  return LinearDiT(ckpt, DiTOptions{});
}

CaptionContext tiny_caption(const LinearDiT& model, int64_t B) {
  at::manual_seed(3);
  at::Tensor y = at::randn({B, 5, model.config().caption_channels});
  at::Tensor mask = at::ones({B, 5});
  if (B > 1) mask[1].narrow(0, 3, 2).zero_();
  return model.encode_caption(y, mask);
}

// [SECTION] attention vs the naive spec

TEST(LinearAttention, MatchesNaiveSpecBidirectionalAndChunked) {
  DiTConfig c = dit_preset("tiny");
  const int64_t H = c.heads, d = c.head_dim, frames = 3, gh = 2, gw = 3, N = frames * gh * gw;
  at::manual_seed(11);
  at::Tensor q = at::randn({N, H, d}), k = at::randn({N, H, d}), v = at::randn({N, H, d});
  at::Tensor cos, sin;
  rope_tables(c, /*first_frame=*/5, frames, gh, gw, cos, sin);
  auto module_inputs = [&](const at::Tensor& x) { return at::relu(x).permute({1, 0, 2}).unsqueeze(0); };   // [1, H, N, d]
  at::Tensor qm = module_inputs(q), km = module_inputs(k), vm = v.permute({1, 0, 2}).unsqueeze(0);
  at::Tensor qr = apply_rope(qm, cos, sin), kr = apply_rope(km, cos, sin);

  at::Tensor spec = at::empty({N, H, d});
  linear_attention_cpu(q.data_ptr<float>(), k.data_ptr<float>(), v.data_ptr<float>(), cos.data_ptr<float>(),
                       sin.data_ptr<float>(), N, H, d, c.linear_attn_eps, [](int64_t, int64_t) { return true; },
                       spec.data_ptr<float>());
  at::Tensor got = linear_attention(qm, km, qr, kr, vm, {}, {}, c.linear_attn_eps).out[0].permute({1, 0, 2});
  EXPECT_LT(rel_error(got, spec), 1e-5);

  // Chunks of 1 and 2 frames: a token sees its own chunk and every earlier one.
  const int64_t per_frame = gh * gw;
  auto chunk_of = [&](int64_t token) { return token / per_frame == 0 ? 0 : 1; };
  linear_attention_cpu(q.data_ptr<float>(), k.data_ptr<float>(), v.data_ptr<float>(), cos.data_ptr<float>(),
                       sin.data_ptr<float>(), N, H, d, c.linear_attn_eps,
                       [&](int64_t n, int64_t m) { return chunk_of(m) <= chunk_of(n); }, spec.data_ptr<float>());
  got = linear_attention_chunked(qm, km, qr, kr, vm, {per_frame, 2 * per_frame}, c.linear_attn_eps)[0].permute({1, 0, 2});
  EXPECT_LT(rel_error(got, spec), 1e-5);
}

// [SECTION] block-by-block with state == one chunk-causal forward

TEST(LinearDiT, BlockByBlockWithStateEqualsChunkCausalForward) {
  LinearDiT model = tiny_model();
  const int64_t B = 2, C = model.config().in_channels;
  CaptionContext caption = tiny_caption(model, B);
  std::vector<int64_t> chunks = {2, 1, 3};
  at::manual_seed(5);
  at::Tensor latents = at::randn({B, C, 6, 4, 6});
  at::Tensor timesteps = at::tensor({999.f, 999.f, 700.f, 400.f, 400.f, 400.f}).repeat({B, 1});   // [B, T]
  timesteps[1] = at::tensor({10.f, 10.f, 500.f, 250.f, 250.f, 250.f});
  at::Tensor whole = model.forward_chunked({latents, timesteps, {}, 0}, caption, chunks);

  for (const char* policy : {"global", "window:8", "sink+window:8"}) {
    WorldState state = model.new_state(B, 4, 6, StatePolicy::parse(policy));
    int64_t start = 0;
    for (int64_t n : chunks) {
      DiTStep step{latents.narrow(2, start, n), timesteps.narrow(1, start, n), {}, start};
      at::Tensor denoise = model.forward(step, caption, state, /*commit=*/false);
      at::Tensor committed = model.forward(step, caption, state, /*commit=*/true);
      at::Tensor want = whole.narrow(2, start, n);
      EXPECT_LT(rel_error(denoise, want), 1e-5) << policy << ", block at frame " << start;
      EXPECT_TRUE(at::equal(denoise, committed)) << "commit must not change the block's own output";
      start += n;
    }
    EXPECT_EQ(state.blocks_committed(), 3);
  }
}

TEST(LinearDiT, BidirectionalForwardIsOneChunk) {
  LinearDiT model = tiny_model();
  CaptionContext caption = tiny_caption(model, 1);
  at::Tensor latents = at::randn({1, 4, 3, 4, 4});
  at::Tensor t = at::tensor({600.f});
  at::Tensor a = model.forward({latents, t, {}, 0}, caption);
  at::Tensor b = model.forward_chunked({latents, t, {}, 0}, caption, {3});
  EXPECT_LT(rel_error(a, b), 1e-6);
  EXPECT_EQ(a.sizes(), latents.sizes());
}

// [SECTION] state policies and size

TEST(WorldState, PoliciesSumTheRightBlocks) {
  DiTConfig c = dit_preset("tiny");
  c.depth = 1;
  at::Tensor like = at::empty({0});
  auto run = [&](const char* policy, int blocks) {
    WorldState state(c, StatePolicy::parse(policy), 1, 1, 1, like);
    for (int b = 1; b <= blocks; ++b) {   // block b contributes S = b, z = 10 b
      state.commit_layer(0, at::full({1, c.heads, c.head_dim, c.head_dim}, float(b)),
                         at::full({1, c.heads, 1, c.head_dim}, 10.f * b), at::zeros({1, 1, c.hidden}));
      state.finish_commit(b - 1, 1);
    }
    return std::make_pair(state.S(0).flatten()[0].item<float>(), state.z(0).flatten()[0].item<float>());
  };
  EXPECT_EQ(run("global", 5), std::make_pair(15.f, 150.f));
  EXPECT_EQ(run("window:2", 5), std::make_pair(9.f, 90.f));         // blocks 4 + 5
  EXPECT_EQ(run("sink+window:2", 5), std::make_pair(10.f, 100.f));  // block 1 + blocks 4, 5
  EXPECT_EQ(run("sink+window:2", 2), std::make_pair(3.f, 30.f));
  EXPECT_THROW(StatePolicy::parse("window:0"), Error);
  EXPECT_THROW(StatePolicy::parse("recent"), Error);
  EXPECT_EQ(StatePolicy::parse("sink+window:16").name(), "sink+window:16");
}

int64_t resident_kib() {
  std::ifstream in("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * 4;
}

TEST(WorldState, SizeIsConstantOver2000Blocks) {
  LinearDiT model = tiny_model();
  CaptionContext caption = tiny_caption(model, 1);
  for (const char* policy : {"global", "window:4", "sink+window:4"}) {
    WorldState state = model.new_state(1, 4, 4, StatePolicy::parse(policy));
    at::Tensor latents = at::randn({1, 4, 1, 4, 4}), t = at::zeros({1});
    int64_t bytes_after_first = 0, rss_at_200 = 0;
    for (int64_t b = 0; b < 2000; ++b) {
      model.forward({latents, t, {}, b}, caption, state, /*commit=*/true);
      if (b == 0) bytes_after_first = state.size_bytes();
      if (b == 200) rss_at_200 = resident_kib();
    }
    EXPECT_EQ(state.size_bytes(), bytes_after_first) << policy;
    EXPECT_LT(resident_kib() - rss_at_200, 4096) << policy << ": resident memory grew";
    EXPECT_EQ(state.next_frame(), 2000);
  }
}

// [SECTION] RoPE re-basing

TEST(WorldState, RebasingEqualsUnboundedAbsolutePositions) {
  LinearDiT model = tiny_model();
  CaptionContext caption = tiny_caption(model, 1);
  at::manual_seed(9);
  // Blocks of 100 frames up to frame 1,600: the default limit (1024) re-bases once on the way.
  WorldState rebased = model.new_state(1, 2, 2, StatePolicy::parse("global"));
  WorldState absolute = model.new_state(1, 2, 2, StatePolicy::parse("global"));
  absolute.rebase_limit = INT64_MAX;
  for (int64_t start = 0; start < 1600; start += 100) {
    at::Tensor latents = at::randn({1, 4, 100, 2, 2}), t = at::full({1}, 300.f);
    at::Tensor a = model.forward({latents, t, {}, start}, caption, rebased, true);
    at::Tensor b = model.forward({latents, t, {}, start}, caption, absolute, true);
    EXPECT_LT(rel_error(a, b), 1e-4) << "block at frame " << start;
  }
  EXPECT_GT(rebased.frame_base(), 0);
  EXPECT_EQ(absolute.frame_base(), 0);

  // Many re-bases in a row (limit 4, blocks of 3 frames) still match.
  WorldState often = model.new_state(1, 2, 2, StatePolicy::parse("window:3"));
  WorldState never = model.new_state(1, 2, 2, StatePolicy::parse("window:3"));
  often.rebase_limit = 4;
  never.rebase_limit = INT64_MAX;
  for (int64_t start = 0; start < 60; start += 3) {
    at::Tensor latents = at::randn({1, 4, 3, 2, 2}), t = at::full({1}, 800.f);
    EXPECT_LT(rel_error(model.forward({latents, t, {}, start}, caption, often, true),
                        model.forward({latents, t, {}, start}, caption, never, true)),
              1e-4);
  }
}

// [SECTION] timesteps, actions, errors

TEST(LinearDiT, TimestepsAreTruncatedToIntegers) {
  LinearDiT model = tiny_model();
  CaptionContext caption = tiny_caption(model, 1);
  at::Tensor latents = at::randn({1, 4, 2, 4, 4});
  at::Tensor a = model.forward({latents, at::tensor({500.7f}), {}, 0}, caption);
  at::Tensor b = model.forward({latents, at::tensor({500.f}), {}, 0}, caption);
  at::Tensor c = model.forward({latents, at::tensor({501.f}), {}, 0}, caption);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_FALSE(at::equal(a, c));
}

TEST(LinearDiT, ActionsConditionEachFrame) {
  LinearDiT model = tiny_model(/*action_dims=*/3);
  CaptionContext caption = tiny_caption(model, 1);
  at::Tensor latents = at::randn({1, 4, 2, 4, 4}), t = at::tensor({400.f});
  at::Tensor actions = at::zeros({1, 2, 3});
  at::Tensor base = model.forward({latents, t, actions, 0}, caption);
  actions[0][1][2] = 1.f;   // change frame 1's action only
  at::Tensor changed = model.forward({latents, t, actions, 0}, caption);
  EXPECT_FALSE(at::equal(base, changed));
  EXPECT_THROW(model.forward({latents, t, {}, 0}, caption), Error);                           // missing
  EXPECT_THROW(model.forward({latents, t, at::zeros({1, 2, 4}), 0}, caption), Error);        // wrong width
  LinearDiT plain = tiny_model(0);
  CaptionContext plain_caption = tiny_caption(plain, 1);
  try {
    plain.forward({latents, t, at::zeros({1, 2, 3}), 0}, plain_caption);
    FAIL() << "actions accepted by a model without an action embedder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no action embedder"), std::string::npos) << e.what();
  }
}

TEST(LinearDiT, BadInputsAreClearErrors) {
  LinearDiT model = tiny_model();
  CaptionContext caption = tiny_caption(model, 1);
  EXPECT_THROW(model.forward({at::randn({1, 3, 2, 4, 4}), at::tensor({1.f}), {}, 0}, caption), Error);   // channels
  EXPECT_THROW(model.forward({at::randn({1, 4, 2, 5, 4}), at::tensor({1.f}), {}, 0}, caption), Error);   // odd grid
  EXPECT_THROW(model.forward({at::randn({1, 4, 2, 4, 4}), at::tensor({1.f, 2.f}), {}, 0}, caption), Error);
  EXPECT_THROW(model.encode_caption(at::randn({1, 5, 7}), at::ones({1, 5})), Error);
  WorldState state = model.new_state(1, 4, 4, StatePolicy{});
  at::Tensor block = at::randn({1, 4, 2, 4, 4});
  model.forward({block, at::tensor({0.f}), {}, 0}, caption, state, true);
  try {
    model.forward({block, at::tensor({0.f}), {}, 5}, caption, state, true);   // gap: frames 2..4 missing
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("continues at frame 2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace wl
