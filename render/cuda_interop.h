// CUDA <-> Vulkan sharing for zero-copy frames (CUDA builds only: WL_WITH_CUDA).
//
//   SharedBuffer:   a device-local VkBuffer whose memory is exported as an opaque fd
//                   (VK_KHR_external_memory_fd) and imported into CUDA (cudaImportExternalMemory +
//                   cudaExternalMemoryGetMappedBuffer): the decoder writes RGBA8 rows tightly
//                   packed through device_pointer(), and Vulkan copies the buffer into an image
//                   before the blit (one device copy per frame). The presenter's default; exact on
//                   an NVIDIA H200.
//   SharedImage:    EXPERIMENTAL: the same for a linear-tiled VkImage, mapped the same way (as a
//                   buffer); the decoder writes at row_pitch() (vkGetImageSubresourceLayout) and
//                   Vulkan blits straight from the image: no device copy. Exact on lavapipe, but
//                   on an NVIDIA H200 the blit read bytes CUDA never wrote; CUDA's documented way
//                   to map image memory is cudaExternalMemoryGetMappedMipmappedArray, which a
//                   buffer mapping is not (docs/render.md, "Open: linear-image path").
//   SharedTimeline: a Vulkan timeline semaphore exported as an opaque fd
//                   (VK_KHR_external_semaphore_fd) and imported into CUDA
//                   (cudaImportExternalSemaphore): CUDA streams signal and wait on it, Vulkan
//                   submissions wait and signal, both with 64-bit values.
// Each type owns both halves of its object (STYLE.md: one move-only owner); the CUDA half is
// released first. The context must be made with VulkanContextInfo::device_uuid = cuda_device_uuid()
// and report interop(). Called by the Presenter; this header needs no CUDA headers.
#pragma once

#include <vulkan/vulkan.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "render/vk_context.h"

struct CUstream_st;
struct CUexternalMemory_st;
struct CUexternalSemaphore_st;

namespace wl {

using cudaStream_t = CUstream_st*;   // identical to CUDA's own typedef

// The UUID of the calling thread's current CUDA device; nullopt when CUDA has no device here (no
// driver, no GPU), with the reason in `why`. Never throws.
std::optional<std::array<uint8_t, 16>> cuda_device_uuid(std::string& why);

// Blocks until `stream`'s work is done; errors are ignored (used in teardown).
void cuda_stream_wait_quietly(cudaStream_t stream);

// Whether `context` can make a SharedImage of these parameters (a linear image exportable as an
// opaque fd, with `features` in its format's linear-tiling features); why not, when it cannot.
LinearImageSupport shared_image_support(const VulkanContext& context, VkExtent2D extent, VkFormat format,
                                        VkImageUsageFlags usage, VkFormatFeatureFlags features);

// A Vulkan allocation imported into CUDA and mapped whole as linear device memory: the CUDA half of
// SharedImage and SharedBuffer. Move-only; releases the mapping, then the import.
class CudaMapping {
 public:
  CudaMapping() = default;
  CudaMapping(CUexternalMemory_st* memory, void* pointer) : memory_(memory), pointer_(pointer) {}
  ~CudaMapping() { reset(); }
  CudaMapping(CudaMapping&& other) noexcept
      : memory_(std::exchange(other.memory_, nullptr)), pointer_(std::exchange(other.pointer_, nullptr)) {}
  CudaMapping& operator=(CudaMapping&& other) noexcept {
    if (this != &other) {
      reset();
      memory_ = std::exchange(other.memory_, nullptr);
      pointer_ = std::exchange(other.pointer_, nullptr);
    }
    return *this;
  }
  CudaMapping(const CudaMapping&) = delete;
  CudaMapping& operator=(const CudaMapping&) = delete;

  void* pointer() const { return pointer_; }
  void reset() noexcept;

 private:
  CUexternalMemory_st* memory_ = nullptr;
  void* pointer_ = nullptr;   // mapped from memory_, freed with cudaFree
};

class SharedImage {
 public:
  SharedImage() = default;
  // A linear 2D image of `format` and `extent`, usable by Vulkan as `usage`, whose format's linear
  // tiling has `features`, in UNDEFINED layout (see record_external_image_init); throws wl::Error
  // naming what the device lacks (shared_image_support tells beforehand).
  SharedImage(const VulkanContext& context, VkExtent2D extent, VkFormat format, VkImageUsageFlags usage,
              VkFormatFeatureFlags features);
  SharedImage(SharedImage&& other) noexcept = default;
  SharedImage& operator=(SharedImage&& other) noexcept;
  SharedImage(const SharedImage&) = delete;
  SharedImage& operator=(const SharedImage&) = delete;

  const LinearImage& vulkan() const { return vulkan_; }   // the Vulkan half (image, memory, layout)
  // The CUDA half: pixel (0, 0) in device memory; row y starts row_pitch() * y bytes further on.
  uint8_t* device_pointer() const {
    return cuda_.pointer() ? static_cast<uint8_t*>(cuda_.pointer()) + vulkan_.offset : nullptr;
  }
  int64_t row_pitch() const { return static_cast<int64_t>(vulkan_.row_pitch); }

 private:
  // The Vulkan half was made first and is destroyed last (image, then memory): members go in
  // reverse order, and assignment releases the CUDA half first.
  LinearImage vulkan_;
  CudaMapping cuda_;   // the whole allocation
};

class SharedBuffer {
 public:
  SharedBuffer() = default;
  // `size` bytes, usable by Vulkan as `usage`; throws wl::Error.
  SharedBuffer(const VulkanContext& context, VkDeviceSize size, VkBufferUsageFlags usage);
  SharedBuffer(SharedBuffer&& other) noexcept = default;
  SharedBuffer& operator=(SharedBuffer&& other) noexcept;
  SharedBuffer(const SharedBuffer&) = delete;
  SharedBuffer& operator=(const SharedBuffer&) = delete;

  const GpuBuffer& vulkan() const { return vulkan_; }   // the Vulkan half (buffer, memory, size)
  uint8_t* device_pointer() const { return static_cast<uint8_t*>(cuda_.pointer()); }   // the CUDA half
  VkDeviceSize size() const { return vulkan_.size; }

 private:
  // The Vulkan half was made first and is destroyed last (GpuBuffer: buffer, then memory): members
  // go in reverse order, and assignment releases the CUDA half first.
  GpuBuffer vulkan_;
  CudaMapping cuda_;
};

class SharedTimeline {
 public:
  SharedTimeline() = default;
  // A timeline semaphore starting at `initial`; throws wl::Error.
  explicit SharedTimeline(const VulkanContext& context, uint64_t initial = 0);
  ~SharedTimeline();
  SharedTimeline(SharedTimeline&& other) noexcept;
  SharedTimeline& operator=(SharedTimeline&& other) noexcept;
  SharedTimeline(const SharedTimeline&) = delete;
  SharedTimeline& operator=(const SharedTimeline&) = delete;

  VkSemaphore semaphore() const { return vulkan_.get(); }   // for VkTimelineSemaphoreSubmitInfo
  // Enqueue on `stream`: set the value to `value` once the stream's earlier work is done.
  void cuda_signal(uint64_t value, cudaStream_t stream) const;
  // Enqueue on `stream`: the stream's later work waits until the value is >= `value`.
  void cuda_wait(uint64_t value, cudaStream_t stream) const;
  // The current value as Vulkan sees it (vkGetSemaphoreCounterValue).
  uint64_t value(VkDevice device) const;

 private:
  void release_cuda() noexcept;
  // Vulkan half first, CUDA half released first (in the destructor).
  UniqueSemaphore vulkan_;
  CUexternalSemaphore_st* cuda_ = nullptr;
};

}  // namespace wl
