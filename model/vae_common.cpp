// The decoders' shared parts (see vae_common.h): one-shot decode, RGBA8 output into a FrameTarget,
// reading weight files and the missing / unexpected / wrong-shape report.
//   frames [B, 3, F, H, W] -> frame [3, H, W] (contiguous, fp32 or bf16) -> RGBA8 [H, row_pitch].
#include "model/vae_common.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>

#include "kernels/core/error.h"
#include "kernels/pack_rgba8.h"
#include "model/tensor_io.h"

#ifdef WL_WITH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

namespace wl {

namespace fs = std::filesystem;

at::Tensor VideoDecoder::decode(const at::Tensor& latents) {
  WL_CHECK(latents.dim() == 5, name(), " decode: latents must be [B, C, T, h, w], found ", latents.dim(), " dims");
  begin(latents.size(0), latents.size(3), latents.size(4));
  return decode_next(latents);   // [B, 3, 1 + 4(T - 1), 8h, 8w]
}

void VideoDecoder::write_rgba8(const at::Tensor& frames, int64_t b, int64_t f, const FrameTarget& target) const {
  WL_CHECK(frames.dim() == 5 && frames.size(1) == 3, name(), " write_rgba8: frames must be [B, 3, F, H, W], found ",
           shape_string(frames.sizes().vec()));
  WL_CHECK(b >= 0 && b < frames.size(0) && f >= 0 && f < frames.size(2), name(), " write_rgba8: frame (", b, ", ", f,
           ") outside ", shape_string(frames.sizes().vec()));
  const int64_t H = frames.size(3), W = frames.size(4);
  WL_CHECK((target.pixels != nullptr || target.cuda_surface != 0) && target.width == W && target.height == H, name(),
           " write_rgba8: frame target is ", target.width, "x", target.height, " but the decoder made ", W, "x", H,
           " (hint: size the target from the latent grid x 8)");
  PackRGBA8Params params;
  params.height = static_cast<int>(H);
  params.width = static_cast<int>(W);
  params.src_plane = H * W;
  params.dst_pitch = target.row_pitch;
  params.dst_surface = target.cuda_surface;   // a Vulkan image's CUDA surface (pixels is then nullptr)
  params.dst_x = target.surface_x;
  params.dst_y = target.surface_y;
  params.scale = range().scale;
  params.offset = range().offset;
  check_pack_rgba8_params(params);

  at::Tensor frame = frames.select(0, b).select(1, f);   // [3, H, W]
  if (!target.on_device) {
    at::Tensor src = frame.to(at::kCPU, at::kFloat).contiguous();   // [3, H, W] fp32
    pack_rgba8_cpu(src.data_ptr<float>(), target.pixels, params);
    return;
  }
#ifdef WL_WITH_CUDA
  WL_CHECK(frames.is_cuda(), name(), " write_rgba8: the frame target is GPU memory but the frames are on ",
           frames.device().str(), " (hint: run the decoder with device \"cuda\")");
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream(frames.device().index()).stream();
  if (frame.scalar_type() == at::kBFloat16) {
    at::Tensor src = frame.contiguous();   // [3, H, W] bf16
    pack_rgba8_cuda(reinterpret_cast<const uint16_t*>(src.data_ptr<at::BFloat16>()), target.pixels, params, stream);
  } else {
    at::Tensor src = frame.to(at::kFloat).contiguous();   // [3, H, W] fp32
    pack_rgba8_cuda(src.data_ptr<float>(), target.pixels, params, stream);
  }
#else
  throw Error(str(name(), " write_rgba8: the frame target is GPU memory but this build has no CUDA"));
#endif
}

}  // namespace wl
