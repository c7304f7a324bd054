// Upload, external-image ownership, letterbox blit and readback commands. See frame_blit.h.
#include "render/frame_blit.h"

#include <algorithm>
#include <cstdint>

namespace wl {

Rect letterbox(int source_width, int source_height, int output_width, int output_height) {
  if (source_width <= 0 || source_height <= 0 || output_width <= 0 || output_height <= 0) return {};
  // Compare aspect ratios exactly in integers: source_w / source_h >= output_w / output_h.
  const int64_t sw = source_width, sh = source_height, ow = output_width, oh = output_height;
  Rect r;
  if (sw * oh >= sh * ow) {   // wider than the output: bars above and below
    r.width = output_width;
    r.height = static_cast<int>(std::clamp<int64_t>((sh * ow + sw / 2) / sw, 1, oh));
  } else {                    // taller: bars left and right
    r.height = output_height;
    r.width = static_cast<int>(std::clamp<int64_t>((sw * oh + sh / 2) / sh, 1, ow));
  }
  r.x = (output_width - r.width) / 2;
  r.y = (output_height - r.height) / 2;
  return r;
}

void image_barrier(VkCommandBuffer cmd, VkImage image, VkImageLayout from, VkImageLayout to,
                   VkPipelineStageFlags src_stage, VkAccessFlags src_access,
                   VkPipelineStageFlags dst_stage, VkAccessFlags dst_access) {
  ownership_barrier(cmd, image, VK_QUEUE_FAMILY_IGNORED, VK_QUEUE_FAMILY_IGNORED, from, to, src_stage, src_access,
                    dst_stage, dst_access);
}

void record_upload(VkCommandBuffer cmd, const GpuBuffer& staging, const GpuImage& source) {
  // The previous frame's blit read this image; its contents are replaced, so UNDEFINED is fine.
  image_barrier(cmd, source.image.get(), VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                VK_PIPELINE_STAGE_TRANSFER_BIT, 0, VK_PIPELINE_STAGE_TRANSFER_BIT,
                VK_ACCESS_TRANSFER_WRITE_BIT);
  VkBufferImageCopy region{};
  region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
  region.imageExtent = {source.extent.width, source.extent.height, 1};
  vkCmdCopyBufferToImage(cmd, staging.buffer.get(), source.image.get(), VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                         1, &region);
  image_barrier(cmd, source.image.get(), VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, VK_PIPELINE_STAGE_TRANSFER_BIT,
                VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
}

void ownership_barrier(VkCommandBuffer cmd, VkImage image, uint32_t from_family, uint32_t to_family,
                       VkImageLayout from_layout, VkImageLayout to_layout, VkPipelineStageFlags src_stage,
                       VkAccessFlags src_access, VkPipelineStageFlags dst_stage, VkAccessFlags dst_access) {
  VkImageMemoryBarrier barrier{};
  barrier.sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER;
  barrier.srcAccessMask = src_access;
  barrier.dstAccessMask = dst_access;
  barrier.oldLayout = from_layout;
  barrier.newLayout = to_layout;
  barrier.srcQueueFamilyIndex = from_family;
  barrier.dstQueueFamilyIndex = to_family;
  barrier.image = image;
  barrier.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
  vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 0, nullptr, 0, nullptr, 1, &barrier);
}

void record_external_image_init(VkCommandBuffer cmd, VkImage image, uint32_t queue_family) {
  // Nothing was written yet, so UNDEFINED loses nothing; GENERAL whenever the other API has it.
  image_barrier(cmd, image, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_GENERAL, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, 0,
                VK_PIPELINE_STAGE_TRANSFER_BIT, 0);
  ownership_barrier(cmd, image, queue_family, VK_QUEUE_FAMILY_EXTERNAL, VK_IMAGE_LAYOUT_GENERAL,
                    VK_IMAGE_LAYOUT_GENERAL, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
                    0);
}

void record_external_image_acquire(VkCommandBuffer cmd, VkImage image, uint32_t queue_family) {
  // The source stage is the one the semaphore wait blocks, so the acquire follows the wait.
  ownership_barrier(cmd, image, VK_QUEUE_FAMILY_EXTERNAL, queue_family, VK_IMAGE_LAYOUT_GENERAL,
                    VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, VK_PIPELINE_STAGE_TRANSFER_BIT, 0,
                    VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
}

void record_external_image_release(VkCommandBuffer cmd, VkImage image, uint32_t queue_family) {
  // After the blit's reads (nothing was written, so there is nothing to make available); the
  // semaphore signal that follows (all commands) orders the other API's next write after this.
  ownership_barrier(cmd, image, queue_family, VK_QUEUE_FAMILY_EXTERNAL, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
                    VK_IMAGE_LAYOUT_GENERAL, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
                    0);
}

void record_letterbox_blit(VkCommandBuffer cmd, const GpuImage& source, VkImage output, VkExtent2D output_extent,
                           Filter filter, const std::array<float, 4>& clear) {
  image_barrier(cmd, output, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                VK_PIPELINE_STAGE_TRANSFER_BIT, 0, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT);
  VkClearColorValue color{};
  std::copy(clear.begin(), clear.end(), color.float32);
  VkImageSubresourceRange range{VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
  vkCmdClearColorImage(cmd, output, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, &color, 1, &range);
  // The clear and the blit both write the output: order them.
  image_barrier(cmd, output, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                VK_ACCESS_TRANSFER_WRITE_BIT);

  Rect r = letterbox(static_cast<int>(source.extent.width), static_cast<int>(source.extent.height),
                     static_cast<int>(output_extent.width), static_cast<int>(output_extent.height));
  if (r.width == 0) return;
  VkImageBlit blit{};
  blit.srcSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
  blit.srcOffsets[1] = {static_cast<int32_t>(source.extent.width), static_cast<int32_t>(source.extent.height), 1};
  blit.dstSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
  blit.dstOffsets[0] = {r.x, r.y, 0};
  blit.dstOffsets[1] = {r.x + r.width, r.y + r.height, 1};
  vkCmdBlitImage(cmd, source.image.get(), VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, output,
                 VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &blit,
                 filter == Filter::Linear ? VK_FILTER_LINEAR : VK_FILTER_NEAREST);
}

void record_readback(VkCommandBuffer cmd, VkImage output, VkExtent2D extent, const GpuBuffer& readback) {
  VkBufferImageCopy region{};
  region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
  region.imageExtent = {extent.width, extent.height, 1};
  vkCmdCopyImageToBuffer(cmd, output, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, readback.buffer.get(), 1, &region);
  // Make the copy visible to the host once the frame's fence has signalled.
  VkBufferMemoryBarrier barrier{};
  barrier.sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER;
  barrier.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  barrier.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  barrier.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  barrier.buffer = readback.buffer.get();
  barrier.size = VK_WHOLE_SIZE;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 0, nullptr, 1,
                       &barrier, 0, nullptr);
}

}  // namespace wl
