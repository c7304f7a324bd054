// Swapchain: the presentable images of one window surface, with what each image needs per use
// (a render-finished semaphore, a view and a framebuffer for the overlay pass).
//
// Made by the presenter at start and again whenever the window's size changes or presentation
// reports VK_ERROR_OUT_OF_DATE_KHR / VK_SUBOPTIMAL_KHR; the old one is passed to the new one's
// creation, then retired through a frame's deletion queue. Images are cleared and blitted into
// (TRANSFER_DST), drawn over by the overlay (COLOR_ATTACHMENT) and presented.
#pragma once

#include <vulkan/vulkan.h>

#include <vector>

#include "render/presenter.h"
#include "render/vk_context.h"

namespace wl {

class Swapchain {
 public:
  // `extent` is the window's drawable size, used when the surface leaves the size to us.
  // `old` (may be VK_NULL_HANDLE) is the swapchain this one replaces. Throws wl::Error.
  Swapchain(const VulkanContext& context, VkExtent2D extent, PresentMode mode, VkSwapchainKHR old);
  Swapchain(Swapchain&&) = default;
  Swapchain& operator=(Swapchain&&) = default;

  VkSwapchainKHR get() const { return swapchain_.get(); }
  VkFormat format() const { return format_; }
  VkExtent2D extent() const { return extent_; }
  PresentMode present_mode() const { return mode_; }
  uint32_t image_count() const { return static_cast<uint32_t>(images_.size()); }
  VkImage image(uint32_t i) const { return images_[i]; }
  VkImageView view(uint32_t i) const { return views_[i].get(); }
  // Signalled by the frame's submission, waited by its present; one per image, because an image's
  // semaphore is only known to be free again once that image is acquired again.
  VkSemaphore render_finished(uint32_t i) const { return render_finished_[i].get(); }

  // Makes one framebuffer per image for `render_pass` (the overlay's); idempotent per pass.
  void create_framebuffers(VkRenderPass render_pass);
  VkFramebuffer framebuffer(uint32_t i) const { return framebuffers_[i].get(); }

 private:
  VkDevice device_ = VK_NULL_HANDLE;
  VkFormat format_ = VK_FORMAT_UNDEFINED;
  VkExtent2D extent_{};
  PresentMode mode_ = PresentMode::Fifo;
  VkRenderPass framebuffer_pass_ = VK_NULL_HANDLE;
  // Declared in creation order; destroyed in reverse: framebuffers, views and semaphores, then the
  // swapchain (which owns `images_`).
  UniqueSwapchain swapchain_;
  std::vector<VkImage> images_;
  std::vector<UniqueSemaphore> render_finished_;
  std::vector<UniqueImageView> views_;
  std::vector<UniqueFramebuffer> framebuffers_;
};

}  // namespace wl
