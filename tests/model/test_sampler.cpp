// The few-step sampler: the sigma grid, the noise generator, exact recovery with an oracle
// denoiser, and deterministic block generation with the commit pass.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "kernels/core/error.h"
#include "model/sampler.h"

namespace wl {
namespace {

TEST(Sampler, SigmaGridMatchesLongSana) {
  EXPECT_NEAR(flow_sigma(1000, 7.0), 1.0, 1e-12);
  EXPECT_NEAR(flow_sigma(960, 7.0), 0.959957, 1e-6);
  EXPECT_NEAR(flow_sigma(889, 7.0), 0.889153, 1e-6);
  EXPECT_NEAR(flow_sigma(727, 7.0), 0.727410, 1e-6);
  EXPECT_EQ(flow_sigma(0, 7.0), 0.0);
  EXPECT_THROW(flow_sigma(1001, 7.0), Error);
}

TEST(Sampler, NoiseIsDeterministicAndStandardNormal) {
  NoiseSource a(42), b(42), c(43);
  auto f32 = at::TensorOptions().dtype(at::kFloat);
  at::Tensor x = a.normal({100001}, f32);
  EXPECT_TRUE(at::equal(x, b.normal({100001}, f32)));
  EXPECT_FALSE(at::equal(x, c.normal({100001}, f32)));
  EXPECT_NEAR(x.mean().item<double>(), 0.0, 0.02);
  EXPECT_NEAR(x.std().item<double>(), 1.0, 0.02);
  EXPECT_EQ(a.counter(), 100002u);
  // Resuming from (seed, counter) continues the same stream.
  NoiseSource resumed(42, a.counter());
  EXPECT_TRUE(at::equal(a.normal({7}, f32), resumed.normal({7}, f32)));
}

TEST(Sampler, OracleDenoiserRecoversTheTarget) {
  NoiseSource noise(1);
  auto f32 = at::TensorOptions().dtype(at::kFloat);
  at::Tensor target = at::linspace(-1, 1, 24).view({1, 2, 3, 2, 2});
  SamplerConfig config;
  std::vector<double> seen;
  Denoiser oracle = [&](const at::Tensor& x, double t) {
    seen.push_back(t);
    double sigma = flow_sigma(t, config.flow_shift);
    return (x - target) / sigma;   // the exact velocity for x = (1 - sigma) target + sigma eps
  };
  at::Tensor x0 = sample_block(config, {1, 2, 3, 2, 2}, f32, noise, oracle);
  EXPECT_TRUE(at::allclose(x0, target, 1e-5, 1e-5));
  EXPECT_EQ(seen, (std::vector<double>{1000, 960, 889, 727}));
  EXPECT_EQ(noise.counter(), 4u * 24u);   // initial noise + fresh noise before each later step
  config.timesteps = {500, 700};
  EXPECT_THROW(sample_block(config, {1}, f32, noise, oracle), Error);
}

TEST(Sampler, GenerateBlockIsDeterministicAndCommits) {
  DiTConfig config = dit_preset("tiny");
  LinearDiT model = LinearDiT::random(config, 3, DiTOptions{});
  CaptionContext caption = model.encode_caption(at::randn({1, 4, config.caption_channels}), at::ones({1, 4}));
  auto run = [&](uint64_t seed) {
    WorldState state = model.new_state(1, 4, 4, StatePolicy{});
    NoiseSource noise(seed);
    std::vector<at::Tensor> blocks;
    for (int b = 0; b < 3; ++b) blocks.push_back(generate_block(model, caption, state, {}, 2, SamplerConfig{}, noise));
    EXPECT_EQ(state.next_frame(), 6);
    EXPECT_EQ(state.blocks_committed(), 3);
    return at::cat(blocks, 2);
  };
  at::Tensor a = run(11), b = run(11), c = run(12);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_FALSE(at::equal(a, c));
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{1, 4, 6, 4, 4}));
}

// Classifier-free action guidance: action_keep = 0 is the "no action" condition (the actions no longer
// matter), w = 1 is the plain conditional pass, w = 0 the no-action pass, and other w extrapolate.
TEST(Sampler, ActionGuidanceExtrapolatesFromTheNoActionPass) {
  DiTConfig config = dit_preset("tiny");
  config.action_dims = 3;
  LinearDiT model = LinearDiT::random(config, 5, DiTOptions{});
  {
    at::NoGradGuard no_grad;
    for (auto& [name, t] : model.weights())   // the last layer starts at zero: give the actions a say
      if (name.rfind("action_embedder.mlp.2.", 0) == 0) t.normal_(0, 0.5);
  }
  CaptionContext caption = model.encode_caption(at::randn({2, 4, config.caption_channels}), at::ones({2, 4}));
  at::Tensor x = at::randn({2, config.in_channels, 2, 4, 4});
  at::Tensor t = at::full({2}, 900.f);
  at::Tensor left = at::zeros({2, 2, 3}), right = at::ones({2, 2, 3});
  auto velocity = [&](const at::Tensor& actions, double w, at::Tensor keep = {}) {
    WorldState state = model.new_state(2, 4, 4, StatePolicy{});
    DiTStep step{x, t, actions, 0, {}};
    step.action_keep = keep;
    return guided_velocity(model, step, caption, state, w);
  };
  at::Tensor v_left = velocity(left, 1.0), v_right = velocity(right, 1.0);
  EXPECT_GT((v_left - v_right).abs().max().item<double>(), 1e-3);                      // the actions matter
  at::Tensor none = at::zeros({2});
  EXPECT_TRUE(at::allclose(velocity(left, 1.0, none), velocity(right, 1.0, none)));     // dropped: they do not
  EXPECT_TRUE(at::equal(velocity(left, 1.0, at::ones({2})), v_left));                   // kept: as without a mask
  at::Tensor v_none = velocity(left, 0.0);
  EXPECT_TRUE(at::allclose(v_none, velocity(right, 1.0, none), 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(velocity(left, 3.0), v_none + 3.0 * (v_left - v_none), 1e-4, 1e-4));
  // Per-frame keep: frame 1 dropped for row 0 only changes that row.
  at::Tensor keep = at::ones({2, 2});
  keep[0][1] = 0;
  at::Tensor v_mixed = velocity(left, 1.0, keep);
  EXPECT_TRUE(at::allclose(v_mixed[1], v_left[1], 1e-5, 1e-5));
  EXPECT_FALSE(at::allclose(v_mixed[0], v_left[0], 1e-5, 1e-5));
  EXPECT_THROW(velocity(left, 1.0, at::ones({3})), Error);
  EXPECT_THROW(velocity(left, 21.0), Error);
}

// Guidance runs its conditional and no-action rows as one pass of twice the batch, each half reading
// the same state rows: it matches two separate passes over a state with blocks committed, and a look
// of k times the state's batch reads row i % batch; only a commit needs the state's own batch.
TEST(Sampler, GuidanceInOnePassMatchesTwoPassesOverAState) {
  DiTConfig config = dit_preset("tiny");
  config.action_dims = 3;
  LinearDiT model = LinearDiT::random(config, 7, DiTOptions{});
  {
    at::NoGradGuard no_grad;
    for (auto& [name, t] : model.weights())
      if (name.rfind("action_embedder.mlp.2.", 0) == 0) t.normal_(0, 0.5);
  }
  CaptionContext caption = model.encode_caption(at::randn({2, 4, config.caption_channels}), at::ones({2, 4}));
  WorldState state = model.new_state(2, 4, 4, StatePolicy{});
  for (int64_t first : {0, 2})   // two committed blocks, rows with different histories
    model.forward({at::randn({2, config.in_channels, 2, 4, 4}), at::zeros({2}), at::randn({2, 2, 3}), first}, caption,
                  state, /*commit=*/true);
  at::Tensor x = at::randn({2, config.in_channels, 2, 4, 4}), t = at::full({2}, 700.f), actions = at::randn({2, 2, 3});
  DiTStep step{x, t, actions, 4, {}};
  at::Tensor v = model.forward(step, caption, state, false);
  DiTStep none = step;
  none.action_keep = at::zeros({2});
  at::Tensor v0 = model.forward(none, caption, state, false);
  EXPECT_TRUE(at::allclose(guided_velocity(model, step, caption, state, 2.5), v0 + 2.5 * (v - v0), 1e-4, 1e-4));

  DiTStep doubled{at::cat({x, x}), at::cat({t, t}), at::cat({actions, actions}), 4, {}};
  at::Tensor v4 = model.forward(doubled, caption, state, false);   // rows 2, 3 read state rows 0, 1
  EXPECT_TRUE(at::allclose(v4.narrow(0, 0, 2), v, 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(v4.narrow(0, 2, 2), v, 1e-5, 1e-5));
  EXPECT_FALSE(at::allclose(v[0], v[1], 1e-3, 1e-3));   // the rows' histories differ
  EXPECT_EQ(state.next_frame(), 4);   // looks commit nothing
  EXPECT_THROW(model.forward(doubled, caption, state, /*commit=*/true), Error);
  DiTStep three{at::randn({3, config.in_channels, 2, 4, 4}), at::full({3}, 700.f), at::randn({3, 2, 3}), 4, {}};
  EXPECT_THROW(model.forward(three, caption, state, false), Error);
}

}  // namespace
}  // namespace wl
