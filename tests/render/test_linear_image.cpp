// The Vulkan half of the CUDA path's zero-copy frames, on any Vulkan device (lavapipe on CI): a
// linear image written in place at its own row pitch (here by the host through a mapping; on the
// GPU machine CUDA writes it, see test_cuda_present.cpp), kept in GENERAL layout and passed to and
// from VK_QUEUE_FAMILY_EXTERNAL with the presenter's own commands (frame_blit.h), then blitted into
// an output image and read back exactly, frame after frame, with no validation message. Also: the
// support query names what a device lacks, and creating what it lacks throws.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/core/error.h"
#include "render/frame_blit.h"
#include "render/vk_context.h"
#include "tests/render/patterns.h"

namespace wl {
namespace {

constexpr VkFormat kFormat = VK_FORMAT_R8G8B8A8_UNORM;
constexpr VkFormatFeatureFlags kBlitFeatures = VK_FORMAT_FEATURE_BLIT_SRC_BIT;
constexpr VkMemoryPropertyFlags kHost = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;

VulkanContextInfo context_info() {
  VulkanContextInfo info;
  info.validation = validation_layer_installed();
  return info;
}

// Memory not exported, and exported as an opaque fd as the CUDA path makes it (without taking the
// fd: that needs VK_KHR_external_memory_fd enabled, which only a CUDA-shared context does).
class LinearImageExport : public ::testing::TestWithParam<VkExternalMemoryHandleTypeFlags> {};

TEST_P(LinearImageExport, WrittenAtItsPitchBlitsExactly) {
  VulkanContext context(context_info());
  const VkExtent2D frame{67, 45};   // odd width: rows are usually padded past 4 * width
  const VkExtent2D out{134, 90};    // 2x, nearest: output (x, y) is frame (x / 2, y / 2)
  const VkExternalMemoryHandleTypeFlags handle = GetParam();
  LinearImageSupport support = context.linear_image_support(frame, kFormat, VK_IMAGE_USAGE_TRANSFER_SRC_BIT,
                                                            kBlitFeatures, handle);
  if (!support.why_not.empty()) GTEST_SKIP() << support.why_not;
  LinearImage source = context.create_linear_image(frame, kFormat, VK_IMAGE_USAGE_TRANSFER_SRC_BIT, kBlitFeatures,
                                                   handle, kHost);
  ASSERT_NE(source.mapped, nullptr);
  EXPECT_GE(source.row_pitch, VkDeviceSize{frame.width} * 4);
  EXPECT_EQ(source.row_pitch % 4, 0u);
  EXPECT_LE(source.offset + source.row_pitch * (frame.height - 1) + frame.width * 4, source.allocation_size);
  std::printf("linear %ux%u RGBA8 on %s, export 0x%x: offset %llu, row pitch %llu bytes (4 * width = %u)%s\n",
              frame.width, frame.height, context.device_name().c_str(), handle,
              static_cast<unsigned long long>(source.offset), static_cast<unsigned long long>(source.row_pitch),
              frame.width * 4, source.dedicated ? ", dedicated" : "");

  GpuImage output =
      context.create_image(out, kFormat, VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
  GpuBuffer readback = context.create_buffer(VkDeviceSize{out.width} * out.height * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                             kHost);
  const VkImage image = source.image.image.get();
  const uint32_t family = context.queue_family();
  context.submit_and_wait([&](VkCommandBuffer cmd) { record_external_image_init(cmd, image, family); });

  // Guard bytes in the row padding (the last row's may not exist): the blit must read only each
  // row's 4 * width bytes.
  for (uint32_t y = 0; y + 1 < frame.height; ++y)
    std::memset(source.mapped + y * source.row_pitch + frame.width * 4, 0xEE,
                source.row_pitch - VkDeviceSize{frame.width} * 4);
  for (int seed = 0; seed < 3; ++seed) {
    write_pattern(FrameTarget{source.mapped, static_cast<int>(frame.width), static_cast<int>(frame.height),
                              static_cast<int64_t>(source.row_pitch), false},
                  seed);
    context.submit_and_wait([&](VkCommandBuffer cmd) {
      record_external_image_acquire(cmd, image, family);
      record_letterbox_blit(cmd, source.image, VK_IMAGE_LAYOUT_GENERAL, output.image.get(), out, Filter::Nearest,
                            {0.f, 0.f, 1.f, 1.f});
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
INSTANTIATE_TEST_SUITE_P(Memory, LinearImageExport, ::testing::Values(kNotExported, kOpaqueFd),
                         [](const ::testing::TestParamInfo<VkExternalMemoryHandleTypeFlags>& info) {
                           return std::string(info.param ? "OpaqueFd" : "NotExported");
                         });

TEST(LinearImage, SupportNamesWhatIsMissing) {
  VulkanContext context(context_info());
  // Far past any device's image limit.
  LinearImageSupport huge = context.linear_image_support({1u << 30, 1u << 30}, kFormat, VK_IMAGE_USAGE_TRANSFER_SRC_BIT,
                                                         kBlitFeatures, 0);
  EXPECT_NE(huge.why_not.find(context.device_name()), std::string::npos) << huge.why_not;
  EXPECT_NE(huge.why_not.find("R8G8B8A8_UNORM"), std::string::npos) << huge.why_not;
  // RGBA8 is never a depth format.
  LinearImageSupport depth = context.linear_image_support(
      {16, 16}, kFormat, VK_IMAGE_USAGE_TRANSFER_SRC_BIT, VK_FORMAT_FEATURE_DEPTH_STENCIL_ATTACHMENT_BIT, 0);
  EXPECT_NE(depth.why_not.find("linear-tiling features lack"), std::string::npos) << depth.why_not;
  EXPECT_THROW(context.create_linear_image({16, 16}, kFormat, VK_IMAGE_USAGE_TRANSFER_SRC_BIT,
                                           VK_FORMAT_FEATURE_DEPTH_STENCIL_ATTACHMENT_BIT, 0, kHost),
               Error);
  EXPECT_EQ(context.validation_messages(), 0);
}

}  // namespace
}  // namespace wl
