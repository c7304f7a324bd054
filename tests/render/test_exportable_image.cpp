// The Vulkan half of the CUDA path's image surface, on any Vulkan device (lavapipe on CI): an
// optimal-tiled RGBA8 image with the shared image's usage and a dedicated allocation (not exported,
// and exported as an opaque fd as the CUDA path makes it), in GENERAL layout and owned by
// VK_QUEUE_FAMILY_EXTERNAL between uses, taken over and handed back with the presenter's own
// commands (frame_blit.h), blitted into an output image and read back exactly, frame after frame,
// with no validation message. On the GPU machine CUDA writes the image through a surface
// (test_cuda_present.cpp); here a buffer copy in a submission of its own stands in for that writer,
// taking the image from the external family and handing it back in GENERAL as CUDA's side would.
// Also: the support query names what a device lacks, and creating what it lacks throws.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/core/error.h"
#include "render/cuda_interop.h"   // kSharedImageFormat, kSharedImageUsage (no CUDA needed)
#include "render/frame_blit.h"
#include "render/vk_context.h"
#include "tests/render/patterns.h"

namespace wl {
namespace {

constexpr VkFormatFeatureFlags kFeatures = VK_FORMAT_FEATURE_BLIT_SRC_BIT | VK_FORMAT_FEATURE_STORAGE_IMAGE_BIT;
constexpr VkMemoryPropertyFlags kHost = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;

VulkanContextInfo context_info() {
  VulkanContextInfo info;
  info.validation = validation_layer_installed();
  return info;
}


class ExportableImageBlit : public ::testing::TestWithParam<VkExternalMemoryHandleTypeFlags> {};

TEST_P(ExportableImageBlit, WrittenOutsideBlitsExactly) {
  VulkanContext context(context_info());
  const VkExtent2D frame{67, 45};   // odd sizes
  const VkExtent2D out{134, 90};    // 2x, nearest: output (x, y) is frame (x / 2, y / 2)
  const VkExternalMemoryHandleTypeFlags handle = GetParam();
  const std::string why_not =
      context.exportable_image_support(frame, kSharedImageFormat, kSharedImageUsage, kFeatures, handle);
  if (!why_not.empty()) GTEST_SKIP() << why_not;
  ExportableImage source =
      context.create_exportable_image(frame, kSharedImageFormat, kSharedImageUsage, kFeatures, handle);
  EXPECT_GE(source.allocation_size, VkDeviceSize{frame.width} * frame.height * 4);
  EXPECT_EQ(source.image.extent.width, frame.width);

  GpuImage output =
      context.create_image(out, kSharedImageFormat, VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
  GpuBuffer readback = context.create_buffer(VkDeviceSize{out.width} * out.height * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                             kHost);
  GpuBuffer pixels = context.create_buffer(VkDeviceSize{frame.width} * frame.height * 4,
                                           VK_BUFFER_USAGE_TRANSFER_SRC_BIT, kHost);
  const VkImage image = source.image.image.get();
  const uint32_t family = context.queue_family();
  context.submit_and_wait([&](VkCommandBuffer cmd) { record_external_image_init(cmd, image, family); });

  for (int seed = 0; seed < 3; ++seed) {
    write_pattern(FrameTarget{static_cast<uint8_t*>(pixels.mapped), static_cast<int>(frame.width),
                              static_cast<int>(frame.height), int64_t{frame.width} * 4, false},
                  seed);
    // The writer's side (CUDA's on the GPU machine): take the image, write every pixel, hand it back.
    context.submit_and_wait([&](VkCommandBuffer cmd) {
      ownership_barrier(cmd, image, VK_QUEUE_FAMILY_EXTERNAL, family, VK_IMAGE_LAYOUT_GENERAL,
                        VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_PIPELINE_STAGE_TRANSFER_BIT, 0,
                        VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT);
      VkBufferImageCopy region{};
      region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
      region.imageExtent = {frame.width, frame.height, 1};
      vkCmdCopyBufferToImage(cmd, pixels.buffer.get(), image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &region);
      ownership_barrier(cmd, image, family, VK_QUEUE_FAMILY_EXTERNAL, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                        VK_IMAGE_LAYOUT_GENERAL, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                        VK_PIPELINE_STAGE_TRANSFER_BIT, 0);
    });
    // The presenter's side, with its own commands.
    context.submit_and_wait([&](VkCommandBuffer cmd) {
      record_external_image_acquire(cmd, image, family);
      record_letterbox_blit(cmd, source.image, output.image.get(), out, Filter::Nearest, {0.f, 0.f, 1.f, 1.f});
      record_external_image_release(cmd, image, family);
      image_barrier(cmd, output.image.get(), VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
                    VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                    VK_ACCESS_TRANSFER_READ_BIT);
      record_readback(cmd, output.image.get(), out, readback);
    });
    std::vector<uint8_t> rgba(static_cast<size_t>(readback.size));
    std::memcpy(rgba.data(), readback.mapped, rgba.size());
    int mismatches = 0;
    for (int y = 0; y < static_cast<int>(out.height); ++y)
      for (int x = 0; x < static_cast<int>(out.width); ++x)
        mismatches += expect_pixel(rgba, static_cast<int>(out.width), x, y, pattern_pixel(x / 2, y / 2, seed), 0,
                                   mismatches);
    EXPECT_EQ(mismatches, 0) << "frame " << seed;
  }
  EXPECT_EQ(context.validation_messages(), 0);
}

constexpr VkExternalMemoryHandleTypeFlags kNotExported = 0;
constexpr VkExternalMemoryHandleTypeFlags kOpaqueFd = VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT;
INSTANTIATE_TEST_SUITE_P(Memory, ExportableImageBlit, ::testing::Values(kNotExported, kOpaqueFd),
                         [](const ::testing::TestParamInfo<VkExternalMemoryHandleTypeFlags>& info) {
                           return std::string(info.param ? "OpaqueFd" : "NotExported");
                         });

TEST(ExportableImage, SupportNamesWhatIsMissing) {
  VulkanContext context(context_info());
  // Far past any device's image limit.
  const std::string huge = context.exportable_image_support({1u << 30, 1u << 30}, kSharedImageFormat,
                                                            kSharedImageUsage, kFeatures, 0);
  EXPECT_NE(huge.find(context.device_name()), std::string::npos) << huge;
  EXPECT_NE(huge.find("R8G8B8A8_UNORM"), std::string::npos) << huge;
  // RGBA8 is never a depth format.
  const std::string depth = context.exportable_image_support(
      {16, 16}, kSharedImageFormat, kSharedImageUsage, VK_FORMAT_FEATURE_DEPTH_STENCIL_ATTACHMENT_BIT, 0);
  EXPECT_NE(depth.find("optimal-tiling features lack"), std::string::npos) << depth;
  EXPECT_THROW(context.create_exportable_image({16, 16}, kSharedImageFormat, kSharedImageUsage,
                                               VK_FORMAT_FEATURE_DEPTH_STENCIL_ATTACHMENT_BIT, 0),
               Error);
  EXPECT_EQ(context.validation_messages(), 0);
}

}  // namespace
}  // namespace wl
