// The commands that put a frame on an output image: upload the FrameTarget's pixels (host path and
// the CUDA path's default buffer), or take an image that CUDA wrote over from the external queue
// family (the CUDA path's image surface: no copy); clear the output to the letterbox colour, blit
// the frame into the centred rectangle that keeps its aspect ratio, and (headless) copy the result
// into a host-visible buffer.
//
// Shapes: source RGBA8 [frame_h, frame_w]; output [out_h, out_w] in the swapchain's format (or RGBA8
// headless). vkCmdBlitImage does the scaling and the RGBA -> BGRA swizzle, so no shader is needed.
// Called by the presenter while it records each frame; letterbox() is pure and tested on its own.
#pragma once

#include <vulkan/vulkan.h>

#include <array>

#include "render/presenter.h"
#include "render/vk_context.h"

namespace wl {

// A pixel rectangle in an output image.
struct Rect {
  int x = 0, y = 0, width = 0, height = 0;
  bool operator==(const Rect&) const = default;
};

// The largest rectangle with the source's aspect ratio that fits in the output, centred.
// Both sides are at least one pixel; a zero-sized input gives an empty rectangle.
Rect letterbox(int source_width, int source_height, int output_width, int output_height);

// One image layout transition with the access scopes either side.
void image_barrier(VkCommandBuffer cmd, VkImage image, VkImageLayout from, VkImageLayout to,
                   VkPipelineStageFlags src_stage, VkAccessFlags src_access,
                   VkPipelineStageFlags dst_stage, VkAccessFlags dst_access);

// staging (host-written, tightly packed rows) -> source image, left in TRANSFER_SRC_OPTIMAL.
void record_upload(VkCommandBuffer cmd, const GpuBuffer& staging, const GpuImage& source);

// One queue family ownership transfer of `image` (from_family -> to_family) with a layout
// transition, the access scopes on this queue's side (Vulkan ignores the other side's).
void ownership_barrier(VkCommandBuffer cmd, VkImage image, uint32_t from_family, uint32_t to_family,
                       VkImageLayout from_layout, VkImageLayout to_layout, VkPipelineStageFlags src_stage,
                       VkAccessFlags src_access, VkPipelineStageFlags dst_stage, VkAccessFlags dst_access);

// An image whose memory another API (CUDA) writes, in GENERAL layout whenever that API may touch it
// (valid for every kind of access, and the one layout an API that knows nothing of Vulkan's layouts
// can be assumed to see) and owned by VK_QUEUE_FAMILY_EXTERNAL between frames:
//   init (once, before the other API first writes): UNDEFINED -> GENERAL, released to EXTERNAL;
//   acquire (each frame, after the semaphore wait at the TRANSFER stage): EXTERNAL -> `queue_family`
//     and GENERAL -> TRANSFER_SRC_OPTIMAL for the blit, the other API's writes made visible to it;
//   release (each frame, after the blit): `queue_family` -> EXTERNAL and back to GENERAL, before
//     the semaphore signal.
void record_external_image_init(VkCommandBuffer cmd, VkImage image, uint32_t queue_family);
void record_external_image_acquire(VkCommandBuffer cmd, VkImage image, uint32_t queue_family);
void record_external_image_release(VkCommandBuffer cmd, VkImage image, uint32_t queue_family);

// Clears `output` (in UNDEFINED layout, whose earlier contents are discarded) to `clear` and blits
// `source` (in TRANSFER_SRC_OPTIMAL: after an upload, or an external image's acquire) into its
// letterbox; leaves `output` in TRANSFER_DST_OPTIMAL. An acquire semaphore for
// `output` must be waited at the TRANSFER stage: the first transition is scoped to it.
void record_letterbox_blit(VkCommandBuffer cmd, const GpuImage& source, VkImage output, VkExtent2D output_extent,
                           Filter filter, const std::array<float, 4>& clear);

// output (TRANSFER_SRC_OPTIMAL) -> readback buffer, tightly packed rows, host-visible after the fence.
void record_readback(VkCommandBuffer cmd, VkImage output, VkExtent2D extent, const GpuBuffer& readback);

}  // namespace wl
