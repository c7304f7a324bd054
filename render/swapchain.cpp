// Swapchain creation: surface format, present mode, extent and per-image objects. See swapchain.h.
#include "render/swapchain.h"

#include <algorithm>

#include "kernels/core/log.h"
#include "render/vk_check.h"

namespace wl {
namespace {

constexpr const char* kLogTag = "present";

// UNORM formats: frame pixels are already display-encoded, and the blit must not re-encode them.
VkSurfaceFormatKHR pick_format(VkPhysicalDevice device, VkSurfaceKHR surface) {
  uint32_t count = 0;
  WL_VK_CHECK(vkGetPhysicalDeviceSurfaceFormatsKHR(device, surface, &count, nullptr));
  std::vector<VkSurfaceFormatKHR> formats(count);
  WL_VK_CHECK(vkGetPhysicalDeviceSurfaceFormatsKHR(device, surface, &count, formats.data()));
  WL_CHECK(!formats.empty(), "the window surface offers no formats");
  for (VkFormat wanted : {VK_FORMAT_B8G8R8A8_UNORM, VK_FORMAT_R8G8B8A8_UNORM})
    for (const VkSurfaceFormatKHR& f : formats)
      if (f.format == wanted && f.colorSpace == VK_COLOR_SPACE_SRGB_NONLINEAR_KHR) return f;
  WL_LOG_WARN(kLogTag, "no B8G8R8A8/R8G8B8A8 UNORM surface format; using format ", formats[0].format);
  return formats[0];
}

VkPresentModeKHR to_vk(PresentMode mode) {
  switch (mode) {
    case PresentMode::Mailbox: return VK_PRESENT_MODE_MAILBOX_KHR;
    case PresentMode::Immediate: return VK_PRESENT_MODE_IMMEDIATE_KHR;
    case PresentMode::Fifo: break;
  }
  return VK_PRESENT_MODE_FIFO_KHR;
}

// FIFO is the one mode every surface offers; others are taken only when listed.
PresentMode pick_mode(VkPhysicalDevice device, VkSurfaceKHR surface, PresentMode wanted) {
  if (wanted == PresentMode::Fifo) return wanted;
  uint32_t count = 0;
  WL_VK_CHECK(vkGetPhysicalDeviceSurfacePresentModesKHR(device, surface, &count, nullptr));
  std::vector<VkPresentModeKHR> modes(count);
  WL_VK_CHECK(vkGetPhysicalDeviceSurfacePresentModesKHR(device, surface, &count, modes.data()));
  if (std::find(modes.begin(), modes.end(), to_vk(wanted)) != modes.end()) return wanted;
  WL_LOG_WARN(kLogTag, "present mode ", static_cast<int>(to_vk(wanted)), " not offered; using FIFO");
  return PresentMode::Fifo;
}

}  // namespace

Swapchain::Swapchain(const VulkanContext& context, VkExtent2D extent, PresentMode mode, VkSwapchainKHR old)
    : device_(context.device()) {
  VkPhysicalDevice physical = context.physical_device();
  VkSurfaceKHR surface = context.surface();
  WL_CHECK(surface != VK_NULL_HANDLE, "a swapchain needs a VulkanContext made with create_surface");

  VkSurfaceCapabilitiesKHR caps;
  WL_VK_CHECK(vkGetPhysicalDeviceSurfaceCapabilitiesKHR(physical, surface, &caps));
  constexpr VkImageUsageFlags kUsage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT;
  WL_CHECK((caps.supportedUsageFlags & kUsage) == kUsage, "the surface's images cannot be blitted into "
           "and drawn on (supported usage ", caps.supportedUsageFlags, ", need ", kUsage, ")");
  // 0xFFFFFFFF means the surface takes whatever size the swapchain has.
  if (caps.currentExtent.width != UINT32_MAX) {
    extent_ = caps.currentExtent;
  } else {
    extent_.width = std::clamp(extent.width, caps.minImageExtent.width, caps.maxImageExtent.width);
    extent_.height = std::clamp(extent.height, caps.minImageExtent.height, caps.maxImageExtent.height);
  }
  WL_CHECK(extent_.width > 0 && extent_.height > 0, "cannot make a swapchain for a minimised window");

  VkSurfaceFormatKHR format = pick_format(physical, surface);
  format_ = format.format;
  VkFormatProperties props;
  vkGetPhysicalDeviceFormatProperties(physical, format_, &props);
  WL_CHECK(props.optimalTilingFeatures & VK_FORMAT_FEATURE_BLIT_DST_BIT, "surface format ", format_,
           " cannot be a blit destination on ", context.device_name());
  mode_ = pick_mode(physical, surface, mode);

  // One image more than the minimum, so acquiring never waits on the presentation engine's hold.
  uint32_t count = caps.minImageCount + 1;
  if (caps.maxImageCount > 0) count = std::min(count, caps.maxImageCount);
  VkSwapchainCreateInfoKHR create{};
  create.sType = VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR;
  create.surface = surface;
  create.minImageCount = count;
  create.imageFormat = format.format;
  create.imageColorSpace = format.colorSpace;
  create.imageExtent = extent_;
  create.imageArrayLayers = 1;
  create.imageUsage = kUsage;
  create.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
  create.preTransform = caps.currentTransform;
  create.compositeAlpha = (caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR)
                              ? VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR
                              : static_cast<VkCompositeAlphaFlagBitsKHR>(caps.supportedCompositeAlpha &
                                                                         -caps.supportedCompositeAlpha);
  create.presentMode = to_vk(mode_);
  create.clipped = VK_TRUE;
  create.oldSwapchain = old;
  VkSwapchainKHR swapchain = VK_NULL_HANDLE;
  WL_VK_CHECK(vkCreateSwapchainKHR(device_, &create, nullptr, &swapchain));
  swapchain_ = UniqueSwapchain(device_, swapchain);

  uint32_t image_count = 0;
  WL_VK_CHECK(vkGetSwapchainImagesKHR(device_, swapchain, &image_count, nullptr));
  images_.resize(image_count);
  WL_VK_CHECK(vkGetSwapchainImagesKHR(device_, swapchain, &image_count, images_.data()));
  for (VkImage image : images_) {
    VkSemaphoreCreateInfo semaphore_create{};
    semaphore_create.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO;
    VkSemaphore semaphore = VK_NULL_HANDLE;
    WL_VK_CHECK(vkCreateSemaphore(device_, &semaphore_create, nullptr, &semaphore));
    render_finished_.emplace_back(device_, semaphore);

    VkImageViewCreateInfo view_create{};
    view_create.sType = VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO;
    view_create.image = image;
    view_create.viewType = VK_IMAGE_VIEW_TYPE_2D;
    view_create.format = format_;
    view_create.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    VkImageView view = VK_NULL_HANDLE;
    WL_VK_CHECK(vkCreateImageView(device_, &view_create, nullptr, &view));
    views_.emplace_back(device_, view);
  }
  WL_LOG_DEBUG(kLogTag, "swapchain ", extent_.width, "x", extent_.height, ", ", image_count,
               " images, present mode ", static_cast<int>(to_vk(mode_)));
}

void Swapchain::create_framebuffers(VkRenderPass render_pass) {
  if (framebuffer_pass_ == render_pass) return;
  framebuffers_.clear();
  for (const UniqueImageView& view : views_) {
    VkFramebufferCreateInfo create{};
    create.sType = VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO;
    create.renderPass = render_pass;
    create.attachmentCount = 1;
    create.pAttachments = view.ptr();
    create.width = extent_.width;
    create.height = extent_.height;
    create.layers = 1;
    VkFramebuffer framebuffer = VK_NULL_HANDLE;
    WL_VK_CHECK(vkCreateFramebuffer(device_, &create, nullptr, &framebuffer));
    framebuffers_.emplace_back(device_, framebuffer);
  }
  framebuffer_pass_ = render_pass;
}

}  // namespace wl
