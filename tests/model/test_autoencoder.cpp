// The tiny latent autoencoder: shapes of encode/decode and of the VideoDecoder stream, the latent
// normalisation, a save/load round trip, refusals that name the tensor or field, and gradients
// reaching every trainable weight. Also prints the decoder's CPU time per 128x128 frame (measured,
// never asserted: tests do not assert on wall time).
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "kernels/core/error.h"
#include "model/autoencoder.h"
#include "model/tensor_io.h"
#include "tests/support/temp_dir.h"

namespace wl {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

AEConfig small() {
  AEConfig c;
  c.latent_channels = 8;
  c.encoder_widths = {8, 12, 16};
  c.encoder_blocks = {1, 0, 1};
  c.decoder_widths = {16, 12, 8};
  c.decoder_blocks = {1, 1, 0};
  return c;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(AutoEncoder, ShapesAndRange) {
  AutoEncoder ae = AutoEncoder::random(small(), 1, {});
  at::Tensor frames = at::rand({2, 3, 64, 48});
  at::Tensor z = ae.encode(frames);
  EXPECT_EQ(z.sizes().vec(), (std::vector<int64_t>{2, 8, 8, 6}));
  at::Tensor back = ae.decode(z);
  EXPECT_EQ(back.sizes().vec(), (std::vector<int64_t>{2, 3, 64, 48}));
  EXPECT_GE(back.min().item<float>(), 0.f);
  EXPECT_LE(back.max().item<float>(), 1.f);
  at::Tensor video = ae.encode_video(at::rand({1, 3, 5, 32, 32}));
  EXPECT_EQ(video.sizes().vec(), (std::vector<int64_t>{1, 8, 5, 4, 4}));
}

TEST(AutoEncoder, LatentStatsNormalise) {
  AutoEncoder ae = AutoEncoder::random(small(), 2, {});
  at::Tensor frames = at::rand({1, 3, 32, 32});
  at::Tensor raw = ae.encode_raw(frames);
  at::Tensor mean = at::full({8}, 0.5f), std = at::full({8}, 2.0f);
  ae.set_latent_stats(mean, std);
  EXPECT_TRUE(at::allclose(ae.encode(frames), (raw - 0.5) / 2.0, 1e-5, 1e-6));
  // decode() undoes the normalisation: it matches decode_raw of the raw latents (clamped).
  EXPECT_TRUE(at::allclose(ae.decode(ae.encode(frames)), ae.decode_raw(raw).clamp(0, 1), 1e-4, 1e-5));
  EXPECT_NE(error_of([&] { ae.set_latent_stats(at::zeros({7}), at::ones({7})); }).find("[8]"), std::string::npos);
}

TEST(AutoEncoder, ConfigRefusesWrongDownsample) {
  AEConfig c = small();
  c.patch = 4;
  std::string e = error_of([&] { c.validate(); });
  EXPECT_NE(e.find("downsamples 16x"), std::string::npos) << e;
  c = small();
  c.decoder_blocks = {1};
  e = error_of([&] { c.validate(); });
  EXPECT_NE(e.find("decoder_widths"), std::string::npos) << e;
}

TEST(AutoEncoder, SaveLoadRoundTrip) {
  TempDir dir;
  const std::string path = (dir.path / "ae.safetensors").string();
  AutoEncoder ae = AutoEncoder::random(small(), 3, {});
  ae.set_latent_stats(at::linspace(-1, 1, 8), at::linspace(0.5, 1.5, 8));
  save_ae_checkpoint(path, ae.weights(), ae.config());
  EXPECT_TRUE(is_ae_checkpoint(path));
  AECheckpoint ckpt = load_ae_checkpoint(path);
  EXPECT_EQ(ckpt.config.to_json(), small().to_json());
  AutoEncoder loaded(ckpt, {});
  for (const auto& [name, t] : ae.weights()) EXPECT_TRUE(at::equal(t, loaded.weights().at(name))) << name;
  at::Tensor frames = at::rand({1, 3, 32, 32});
  EXPECT_TRUE(at::equal(ae.decode(ae.encode(frames)), loaded.decode(loaded.encode(frames))));
}

TEST(AutoEncoder, LoadErrorsNameTheTensor) {
  TempDir dir;
  AEConfig c = small();
  TensorMap w = random_ae_weights(c, 4);
  auto save_raw = [&](const std::string& name, const TensorMap& t, bool with_config) {
    const std::string path = (dir.path / name).string();
    std::map<std::string, std::string> meta;
    if (with_config) meta["worldloop_ae_config"] = c.to_json();
    save_tensors(path, std::vector<std::pair<std::string, at::Tensor>>(t.begin(), t.end()), meta);
    return path;
  };
  TensorMap missing = w;
  missing.erase("decoder.conv_in.bias");
  std::string e = error_of([&] { load_ae_checkpoint(save_raw("missing.safetensors", missing, true)); });
  EXPECT_NE(e.find("missing: decoder.conv_in.bias"), std::string::npos) << e;

  TensorMap wrong = w;
  wrong["encoder.conv_out.weight"] = at::zeros({8, 16, 1, 1});
  e = error_of([&] { load_ae_checkpoint(save_raw("wrong.safetensors", wrong, true)); });
  EXPECT_NE(e.find("encoder.conv_out.weight expected [8, 16, 3, 3] found [8, 16, 1, 1]"), std::string::npos) << e;

  TensorMap extra = w;
  extra["decoder.extra.weight"] = at::zeros({1});
  e = error_of([&] { load_ae_checkpoint(save_raw("extra.safetensors", extra, true)); });
  EXPECT_NE(e.find("unexpected: decoder.extra.weight"), std::string::npos) << e;

  std::string no_config = save_raw("noconfig.safetensors", w, false);
  EXPECT_FALSE(is_ae_checkpoint(no_config));
  e = error_of([&] { load_ae_checkpoint(no_config); });
  EXPECT_NE(e.find("worldloop_ae_config"), std::string::npos) << e;
  EXPECT_NE(e.find("noconfig.safetensors"), std::string::npos) << e;

  e = error_of([&] { load_ae_checkpoint((dir.path / "absent.safetensors").string()); });
  EXPECT_NE(e.find("absent.safetensors"), std::string::npos) << e;
}

TEST(AutoEncoder, GradientsReachEveryTrainableWeight) {
  AutoEncoder ae = AutoEncoder::random(small(), 5, {});
  ae.set_trainable(true);
  at::Tensor frames = at::rand({2, 3, 32, 32});
  at::Tensor loss = (ae.decode_raw(ae.encode_raw(frames)) - frames).pow(2).mean();
  loss.backward();
  std::vector<std::string> names = ae.parameter_names();
  std::vector<at::Tensor> params = ae.parameters();
  ASSERT_EQ(names.size(), params.size());
  EXPECT_EQ(names.size() + 2, ae.weights().size());   // all but latent_mean and latent_std
  for (size_t i = 0; i < params.size(); ++i) {
    ASSERT_TRUE(params[i].grad().defined()) << names[i];
    EXPECT_GT(params[i].grad().abs().sum().item<double>(), 0.0) << names[i];
  }
}

TEST(AEDecoder, StreamsOneFramePerLatent) {
  AECheckpoint ckpt{small(), random_ae_weights(small(), 6), "random"};
  AEDecoder decoder(ckpt, {});
  EXPECT_EQ(decoder.state_bytes(), 0);
  EXPECT_STREQ(decoder.name(), "ae");
  at::Tensor latents = at::randn({2, 8, 3, 4, 4});
  decoder.begin(2, 4, 4);
  at::Tensor first = decoder.decode_next(latents.narrow(2, 0, 1));
  EXPECT_EQ(first.sizes().vec(), (std::vector<int64_t>{2, 3, 1, 32, 32}));
  at::Tensor rest = decoder.decode_next(latents.narrow(2, 1, 2));
  EXPECT_EQ(rest.sizes().vec(), (std::vector<int64_t>{2, 3, 2, 32, 32}));
  // No temporal state: a clip decodes to the same frames in one call or frame by frame.
  at::Tensor whole = decoder.decode(latents);
  EXPECT_TRUE(at::allclose(whole, at::cat({first, rest}, 2), 1e-5, 1e-6));
  std::string e = error_of([&] { decoder.decode_next(at::randn({2, 8, 1, 5, 4})); });
  EXPECT_NE(e.find("[2, 8, T, 4, 4]"), std::string::npos) << e;
  AEDecoder fresh(ckpt, {});
  e = error_of([&] { fresh.decode_next(latents); });
  EXPECT_NE(e.find("begin"), std::string::npos) << e;
}

// The default config at the engine's size: 16x16 latents -> 128x128 frames. Prints the time.
TEST(AEDecoder, DefaultConfigDecodes128AndReportsTime) {
  AEConfig c;
  AECheckpoint ckpt{c, random_ae_weights(c, 7), "random"};
  AEDecoder decoder(ckpt, {});
  decoder.begin(1, 16, 16);
  at::Tensor latent = at::randn({1, c.latent_channels, 1, 16, 16});
  at::Tensor frame = decoder.decode_next(latent);
  EXPECT_EQ(frame.sizes().vec(), (std::vector<int64_t>{1, 3, 1, 128, 128}));
  const int kFrames = 50;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kFrames; ++i) frame = decoder.decode_next(latent);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / kFrames;
  std::printf("AE decoder (%s): %.2f ms per 128x128 frame on %d threads\n", c.describe().c_str(), ms,
              at::get_num_threads());
  RecordProperty("decoder_ms_per_frame", std::to_string(ms));
}

}  // namespace
}  // namespace wl
