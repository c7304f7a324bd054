// The CUDA paths against the CPU fp32 path: CUDA fp32 to 1e-4 relative, CUDA bf16 (fp32 linear
// attention accumulation) within bf16 tolerance, both bidirectional and block-by-block with the
// world state. Skips cleanly without a CUDA device.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Context.h>

#include "model/linear_dit.h"
#include "model/sampler.h"

namespace wl {
namespace {

// fp32 comparisons need true fp32 on the GPU: torch lets cuDNN convolutions use TF32 by default,
// which alone puts the patch embed and the depthwise conv ~2e-4 off.
void strict_fp32() {
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setAllowTF32CuBLAS(false);
}

double rel_error(const at::Tensor& a, const at::Tensor& b) {
  return (a.cpu().to(at::kDouble) - b.cpu().to(at::kDouble)).abs().max().item<double>() /
         std::max(b.cpu().to(at::kDouble).abs().max().item<double>(), 1e-30);
}

class LinearDiTCuda : public ::testing::TestWithParam<bool> {};

TEST_P(LinearDiTCuda, MatchesCpuFp32) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  strict_fp32();
  const bool bf16 = GetParam();
  // Wider than `tiny` so bf16 rounding is representative: D 224 = 2 x 112 (the 2B head size).
  DiTConfig config = dit_preset("tiny");
  config.hidden = 224, config.heads = 2, config.head_dim = 112, config.ffn_hidden = 672, config.in_channels = 16,
  config.out_channels = 16, config.caption_channels = 64, config.depth = 3;
  DiTCheckpoint ckpt;
  ckpt.config = config;
  ckpt.tensors = random_dit_weights(config, 5, false);
  ckpt.source = "test";
  LinearDiT cpu(ckpt, DiTOptions{"cpu", false});
  LinearDiT gpu(ckpt, DiTOptions{"cuda", bf16});
  const double tolerance = bf16 ? 3e-2 : 1e-4;

  at::manual_seed(1);
  at::Tensor caption = at::randn({2, 7, 64}), mask = at::ones({2, 7});
  mask[1].narrow(0, 4, 3).zero_();
  CaptionContext c_cpu = cpu.encode_caption(caption, mask), c_gpu = gpu.encode_caption(caption.cuda(), mask.cuda());
  at::Tensor latents = at::randn({2, 16, 4, 8, 12}), t = at::tensor({900.f, 300.f});
  EXPECT_LT(rel_error(gpu.forward({latents.cuda(), t.cuda(), {}, 0}, c_gpu), cpu.forward({latents, t, {}, 0}, c_cpu)),
            tolerance);

  WorldState s_cpu = cpu.new_state(2, 8, 12, StatePolicy::parse("sink+window:2"));
  WorldState s_gpu = gpu.new_state(2, 8, 12, StatePolicy::parse("sink+window:2"));
  for (int64_t start = 0; start < 8; start += 2) {
    at::Tensor block = latents.narrow(2, start % 4, 2);
    at::Tensor a = gpu.forward({block.cuda(), t.cuda(), {}, start}, c_gpu, s_gpu, true);
    at::Tensor b = cpu.forward({block, t, {}, start}, c_cpu, s_cpu, true);
    EXPECT_LT(rel_error(a, b), tolerance) << "block at frame " << start;
  }
  EXPECT_EQ(s_gpu.blocks_committed(), s_cpu.blocks_committed());
}

INSTANTIATE_TEST_SUITE_P(Dtypes, LinearDiTCuda, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "bf16" : "fp32"; });

TEST(SamplerCuda, SameSeedSameBlockOnCpuAndCuda) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  strict_fp32();
  DiTConfig config = dit_preset("tiny");
  DiTCheckpoint ckpt;
  ckpt.config = config;
  ckpt.tensors = random_dit_weights(config, 8, false);
  ckpt.source = "test";
  LinearDiT cpu(ckpt, DiTOptions{"cpu", false}), gpu(ckpt, DiTOptions{"cuda", false});
  at::Tensor caption = at::randn({1, 3, config.caption_channels}), mask = at::ones({1, 3});
  WorldState s_cpu = cpu.new_state(1, 4, 4, StatePolicy{}), s_gpu = gpu.new_state(1, 4, 4, StatePolicy{});
  NoiseSource n_cpu(21), n_gpu(21);
  at::Tensor a = generate_block(cpu, cpu.encode_caption(caption, mask), s_cpu, {}, 2, SamplerConfig{}, n_cpu);
  at::Tensor b = generate_block(gpu, gpu.encode_caption(caption.cuda(), mask.cuda()), s_gpu, {}, 2, SamplerConfig{}, n_gpu);
  EXPECT_LT(rel_error(b, a), 1e-4);
}

}  // namespace
}  // namespace wl
