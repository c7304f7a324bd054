// Move-only owners for Vulkan handles: each owner destroys its one handle exactly once.
//
//   VkUnique<VkImage, vkDestroyImage> image(device, raw_image);   // destroyed with its owner
//
// Handles that a VkDevice destroys share one template (the destroy function is a template argument);
// the instance and device own themselves (VkRootUnique), and instance children (surface, debug
// messenger) carry their destroy function at run time because extensions load it by name.
// Owners are declared in creation order inside their holders, so C++ destroys them in reverse:
// that is the teardown order Vulkan requires, and the holders comment it.
#pragma once

#include <vulkan/vulkan.h>

#include <utility>

namespace wl {

template <typename Handle, void (*Destroy)(VkDevice, Handle, const VkAllocationCallbacks*)>
class VkUnique {
 public:
  VkUnique() = default;
  VkUnique(VkDevice device, Handle handle) : device_(device), handle_(handle) {}
  ~VkUnique() { reset(); }

  VkUnique(const VkUnique&) = delete;
  VkUnique& operator=(const VkUnique&) = delete;
  VkUnique(VkUnique&& other) noexcept
      : device_(std::exchange(other.device_, VK_NULL_HANDLE)),
        handle_(std::exchange(other.handle_, VK_NULL_HANDLE)) {}
  VkUnique& operator=(VkUnique&& other) noexcept {
    if (this != &other) {
      reset();
      device_ = std::exchange(other.device_, VK_NULL_HANDLE);
      handle_ = std::exchange(other.handle_, VK_NULL_HANDLE);
    }
    return *this;
  }

  Handle get() const { return handle_; }
  // The address of the handle, for Vulkan calls that take arrays (pSemaphores, pSwapchains...).
  const Handle* ptr() const { return &handle_; }
  explicit operator bool() const { return handle_ != VK_NULL_HANDLE; }

  void reset() {
    if (handle_ != VK_NULL_HANDLE) Destroy(device_, handle_, nullptr);
    handle_ = VK_NULL_HANDLE;
    device_ = VK_NULL_HANDLE;
  }

 private:
  VkDevice device_ = VK_NULL_HANDLE;
  Handle handle_ = VK_NULL_HANDLE;
};

// The instance and the device: destroyed by a function that takes only the handle.
template <typename Handle, void (*Destroy)(Handle, const VkAllocationCallbacks*)>
class VkRootUnique {
 public:
  VkRootUnique() = default;
  explicit VkRootUnique(Handle handle) : handle_(handle) {}
  ~VkRootUnique() { reset(); }
  VkRootUnique(const VkRootUnique&) = delete;
  VkRootUnique& operator=(const VkRootUnique&) = delete;
  VkRootUnique(VkRootUnique&& other) noexcept : handle_(std::exchange(other.handle_, VK_NULL_HANDLE)) {}
  VkRootUnique& operator=(VkRootUnique&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, VK_NULL_HANDLE);
    }
    return *this;
  }
  Handle get() const { return handle_; }
  void reset() {
    if (handle_ != VK_NULL_HANDLE) Destroy(handle_, nullptr);
    handle_ = VK_NULL_HANDLE;
  }

 private:
  Handle handle_ = VK_NULL_HANDLE;
};

// Children of the instance (surface, debug messenger). The destroy function is a run-time value
// because extension functions such as vkDestroyDebugUtilsMessengerEXT are loaded by name.
template <typename Handle>
class InstanceUnique {
 public:
  using DestroyFn = void(VKAPI_PTR*)(VkInstance, Handle, const VkAllocationCallbacks*);
  InstanceUnique() = default;
  InstanceUnique(VkInstance instance, Handle handle, DestroyFn destroy)
      : instance_(instance), handle_(handle), destroy_(destroy) {}
  ~InstanceUnique() { reset(); }
  InstanceUnique(const InstanceUnique&) = delete;
  InstanceUnique& operator=(const InstanceUnique&) = delete;
  InstanceUnique(InstanceUnique&& other) noexcept
      : instance_(std::exchange(other.instance_, VK_NULL_HANDLE)),
        handle_(std::exchange(other.handle_, VK_NULL_HANDLE)),
        destroy_(std::exchange(other.destroy_, nullptr)) {}
  InstanceUnique& operator=(InstanceUnique&& other) noexcept {
    if (this != &other) {
      reset();
      instance_ = std::exchange(other.instance_, VK_NULL_HANDLE);
      handle_ = std::exchange(other.handle_, VK_NULL_HANDLE);
      destroy_ = std::exchange(other.destroy_, nullptr);
    }
    return *this;
  }
  Handle get() const { return handle_; }
  void reset() {
    if (handle_ != VK_NULL_HANDLE && destroy_) destroy_(instance_, handle_, nullptr);
    handle_ = VK_NULL_HANDLE;
  }

 private:
  VkInstance instance_ = VK_NULL_HANDLE;
  Handle handle_ = VK_NULL_HANDLE;
  DestroyFn destroy_ = nullptr;
};

using UniqueInstance = VkRootUnique<VkInstance, vkDestroyInstance>;
using UniqueDevice = VkRootUnique<VkDevice, vkDestroyDevice>;
using UniqueSurface = InstanceUnique<VkSurfaceKHR>;
using UniqueMessenger = InstanceUnique<VkDebugUtilsMessengerEXT>;

using UniqueBuffer = VkUnique<VkBuffer, vkDestroyBuffer>;
using UniqueImage = VkUnique<VkImage, vkDestroyImage>;
using UniqueImageView = VkUnique<VkImageView, vkDestroyImageView>;
using UniqueMemory = VkUnique<VkDeviceMemory, vkFreeMemory>;
using UniqueFence = VkUnique<VkFence, vkDestroyFence>;
using UniqueSemaphore = VkUnique<VkSemaphore, vkDestroySemaphore>;
using UniqueCommandPool = VkUnique<VkCommandPool, vkDestroyCommandPool>;
using UniqueSwapchain = VkUnique<VkSwapchainKHR, vkDestroySwapchainKHR>;
using UniqueRenderPass = VkUnique<VkRenderPass, vkDestroyRenderPass>;
using UniqueFramebuffer = VkUnique<VkFramebuffer, vkDestroyFramebuffer>;
using UniqueDescriptorPool = VkUnique<VkDescriptorPool, vkDestroyDescriptorPool>;

}  // namespace wl
