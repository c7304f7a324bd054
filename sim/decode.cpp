// `worldloop decode` (see decode.h).
#include "sim/decode.h"

#include <ATen/ATen.h>

#include <memory>

#include "kernels/core/error.h"
#include "kernels/core/log.h"
#include "model/taehv.h"
#include "model/tensor_io.h"
#include "model/wan_vae.h"
#ifdef WL_WITH_RECORDING
#include "render/recorder.h"
#endif

namespace wl {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// TAEHV checkpoints hold "decoder.1.weight" as their first conv; Wan2.1's (any dialect) do not.
std::unique_ptr<VideoDecoder> open_decoder(const DecodeOptions& o) {
  std::string kind = o.decoder;
  if (kind == "auto") {
    TensorMap probe = read_weight_files(o.vae, "vae");
    kind = probe.count("decoder.1.weight") ? "taehv" : "wan2.1";
    WL_LOG_INFO("decode", o.vae, " looks like ", kind, " weights");
  }
  if (kind == "taehv") return std::make_unique<TAEHVDecoder>(load_taehv_checkpoint(o.vae), VAEOptions{o.device, o.bf16});
  if (kind == "wan2.1") return std::make_unique<WanVAEDecoder>(load_wan_vae_checkpoint(o.vae), WanVAEOptions{{o.device, o.bf16}});
  WL_FAIL("unknown decoder '", kind, "'; the decoders are wan2.1, taehv and auto");
}

}  // namespace

void run_decode(const DecodeOptions& o) {
  bool mp4 = ends_with(o.out, ".mp4");
  WL_CHECK(mp4 || ends_with(o.out, ".safetensors"), "--out ", o.out, " must end in .safetensors or .mp4");
  std::unique_ptr<VideoDecoder> decoder = open_decoder(o);
  at::Tensor latents = load_tensor(SafetensorsFile::open(o.latents), "latents");
  WL_CHECK(latents.dim() == 5, o.latents, ": latents should be [B, C, T, h, w], found ", shape_string(latents.sizes().vec()));
  const int64_t B = latents.size(0), T = latents.size(2), h = latents.size(3), w = latents.size(4);
  decoder->begin(B, h, w);
  std::vector<at::Tensor> frames;
  for (int64_t t = 0; t < T; ++t)
    frames.push_back(decoder->decode_next(latents.narrow(2, t, 1).to(at::Device(o.device))).to(at::kFloat).cpu());
  at::Tensor video = at::cat(frames, 2);   // [B, 3, F, 8h, 8w]
  WL_LOG_INFO("decode", T, " latents -> ", video.size(2), " frames of ", video.size(4), "x", video.size(3), " with ",
              decoder->name());
  if (!mp4) {
    save_tensors(o.out, {{"frames", video}}, {{"decoder", decoder->name()}, {"latents", o.latents}});
    return;
  }
#ifdef WL_WITH_RECORDING
  RecorderInfo info;
  info.path = o.out;
  info.width = static_cast<int>(video.size(4));
  info.height = static_cast<int>(video.size(3));
  info.fps = {static_cast<int>(o.fps * 1000), 1000};
  info.block_when_full = true;
  Recorder recorder(info);
  std::vector<uint8_t> rgba(static_cast<size_t>(info.width) * info.height * 4);
  FrameTarget target{rgba.data(), info.width, info.height, int64_t(info.width) * 4, false};
  for (int64_t f = 0; f < video.size(2); ++f) {
    decoder->write_rgba8(video, 0, f, target);
    WL_CHECK(recorder.push(target, f), o.out, ": the encoder failed: ", recorder.stats().error);
  }
  recorder.stop();
#else
  WL_FAIL("this build has no recording (FFmpeg); write --out FILE.safetensors instead");
#endif
}

}  // namespace wl
