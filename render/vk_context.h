// VulkanContext: instance (with validation layers when asked), physical device, device, one queue.
//
// The presenter makes one for its window or for headless work; tests make one to check the
// validation layers. With `validation` on, a debug-utils messenger logs every warning and error
// under the "vulkan" tag and counts them, so a test can assert that a run produced none.
// Also here: buffers and images with their memory (GpuBuffer, GpuImage, ExportableImage) and one-shot
// submission.
// Not thread-safe: one thread records and submits, as in the frame loop.
#pragma once

#include <vulkan/vulkan.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "render/vk_handles.h"

namespace wl {

struct VulkanContextInfo {
  const char* app_name = "worldloop";             // reported to the driver
  bool validation = false;                        // enable VK_LAYER_KHRONOS_validation and count messages
  std::vector<const char*> instance_extensions;   // extra extensions, e.g. SDL's surface extensions
  // Windowed only: makes the surface the chosen queue must present to. Empty for headless work.
  std::function<VkSurfaceKHR(VkInstance)> create_surface;
  // CUDA builds: the UUID of the CUDA device the model runs on. The physical device with this UUID
  // wins over every other, and when it offers external memory and semaphore fds (and timeline
  // semaphores) they are enabled, see VulkanContext::interop(). Unset: no interop is enabled.
  std::optional<std::array<uint8_t, 16>> device_uuid;
};

// A buffer with its own memory. Declared in creation order: C++ destroys the buffer, then frees
// the memory (which also unmaps it).
struct GpuBuffer {
  UniqueMemory memory;
  UniqueBuffer buffer;
  void* mapped = nullptr;   // persistent mapping when host-visible, else nullptr
  VkDeviceSize size = 0;
};

// A 2D single-mip image with its own memory; destroyed image first, memory second.
struct GpuImage {
  UniqueMemory memory;
  UniqueImage image;
  VkFormat format = VK_FORMAT_UNDEFINED;
  VkExtent2D extent{};
};

// An optimal-tiled 2D image whose memory is one dedicated allocation, exportable to another API
// (CUDA maps it as a CUDA array, render/cuda_interop.h). The memory layout is the driver's own:
// nothing but the importer (given the same format, extent and mip count) may address its bytes.
// Destroyed image first, then memory (GpuImage).
struct ExportableImage {
  GpuImage image;
  VkDeviceSize allocation_size = 0;   // bytes of its memory: what an importer must name
};

class VulkanContext {
 public:
  explicit VulkanContext(const VulkanContextInfo& info);   // throws wl::Error
  ~VulkanContext();
  // The messenger's callback keeps a pointer to this object: it neither copies nor moves.
  VulkanContext(const VulkanContext&) = delete;
  VulkanContext& operator=(const VulkanContext&) = delete;

  VkInstance instance() const { return instance_.get(); }
  VkPhysicalDevice physical_device() const { return physical_device_; }
  VkDevice device() const { return device_.get(); }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return queue_family_; }
  VkSurfaceKHR surface() const { return surface_.get(); }
  const std::string& device_name() const { return device_name_; }
  // True when the device matched VulkanContextInfo::device_uuid and has VK_KHR_external_memory_fd,
  // VK_KHR_external_semaphore_fd and timeline semaphores enabled (what render/cuda_interop needs).
  bool interop() const { return interop_; }
  // Why interop() is false, in one line, for logs and PresenterStats ("" when it is true).
  const std::string& interop_note() const { return interop_note_; }

  // Warnings and errors the validation layers reported so far (0 when validation is off).
  int validation_messages() const { return validation_messages_.load(); }

  // A memory type within `type_bits` with all `required` flags, preferring one that also has the
  // `preferred` flags. Throws when none fits.
  uint32_t memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                       VkMemoryPropertyFlags preferred = 0) const;
  GpuBuffer create_buffer(VkDeviceSize size, VkBufferUsageFlags usage, VkMemoryPropertyFlags required,
                          VkMemoryPropertyFlags preferred = 0) const;
  GpuImage create_image(VkExtent2D extent, VkFormat format, VkImageUsageFlags usage) const;
  // Why the device cannot make an optimal-tiled 2D image of `format` and `extent` with `usage`,
  // whose optimal-tiling format features include `features`, its memory exportable as
  // `export_handle` (0: not exported); "" when it can. Asks vkGetPhysicalDeviceFormatProperties and
  // vkGetPhysicalDeviceImageFormatProperties2 (with VkPhysicalDeviceExternalImageFormatInfo).
  std::string exportable_image_support(VkExtent2D extent, VkFormat format, VkImageUsageFlags usage,
                                       VkFormatFeatureFlags features,
                                       VkExternalMemoryHandleTypeFlags export_handle) const;
  // Such an image in UNDEFINED layout, bound at offset 0 to a dedicated device-local allocation
  // (VkMemoryDedicatedAllocateInfo, plus VkExportMemoryAllocateInfo when exported). Throws wl::Error
  // with exportable_image_support's reason when the device cannot.
  ExportableImage create_exportable_image(VkExtent2D extent, VkFormat format, VkImageUsageFlags usage,
                                          VkFormatFeatureFlags features,
                                          VkExternalMemoryHandleTypeFlags export_handle) const;
  // Records commands into a temporary command buffer, submits them and waits (set-up work only).
  void submit_and_wait(const std::function<void(VkCommandBuffer)>& record) const;

 private:
  static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                   VkDebugUtilsMessageTypeFlagsEXT types,
                                                   const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                   void* self);
  void pick_physical_device(bool need_present, const std::optional<std::array<uint8_t, 16>>& uuid);

  std::atomic<int> validation_messages_{0};
  // Declared in creation order; destroyed in reverse: pool, device, surface, messenger, instance.
  UniqueInstance instance_;
  UniqueMessenger messenger_;
  UniqueSurface surface_;
  VkPhysicalDevice physical_device_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  std::string device_name_;
  bool interop_ = false;
  std::string interop_note_;
  UniqueDevice device_;
  VkQueue queue_ = VK_NULL_HANDLE;
  UniqueCommandPool setup_pool_;   // for submit_and_wait
};

}  // namespace wl
