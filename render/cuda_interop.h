// CUDA <-> Vulkan sharing for zero-copy frames (CUDA builds only: WL_WITH_CUDA).
//
//   SharedBuffer:   a device-local VkBuffer whose memory is exported as an opaque fd
//                   (VK_KHR_external_memory_fd) and imported into CUDA (cudaImportExternalMemory +
//                   cudaExternalMemoryGetMappedBuffer): the decoder writes RGBA8 rows tightly
//                   packed through device_pointer(), and Vulkan copies the buffer into an image
//                   before the blit (one device copy per frame). The presenter's fallback; exact on
//                   an NVIDIA H200.
//   SharedImage:    an optimal-tiled RGBA8 VkImage with a dedicated, exported allocation, imported
//                   the same way (flag cudaExternalMemoryDedicated) and mapped as a CUDA array
//                   (cudaExternalMemoryGetMappedMipmappedArray, one level, surface load/store),
//                   with a surface object over it: the decoder writes pixels with surf2Dwrite
//                   through cuda_surface() and Vulkan blits straight from the image: no device copy.
//                   CUDA's documented way to share an image (NVIDIA's vulkanImageCUDA sample);
//                   the presenter's default (PresenterInfo::cuda_image_surface), exact on an H200.
//   SharedTimeline: a Vulkan timeline semaphore exported as an opaque fd
//                   (VK_KHR_external_semaphore_fd) and imported into CUDA
//                   (cudaImportExternalSemaphore): CUDA streams signal and wait on it, Vulkan
//                   submissions wait and signal, both with 64-bit values.
// Each type owns both halves of its object (STYLE.md: one move-only owner); the CUDA half is
// released first. The context must be made with VulkanContextInfo::device_uuid = cuda_device_uuid()
// and report interop(). Called by the Presenter and bench_present; this header needs no CUDA
// headers.
#pragma once

#include <vulkan/vulkan.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "render/vk_context.h"
#include "sim/frame_types.h"

struct CUstream_st;
struct CUexternalMemory_st;
struct CUexternalSemaphore_st;
struct cudaMipmappedArray;

namespace wl {

using cudaStream_t = CUstream_st*;   // identical to CUDA's own typedef

// The UUID of the calling thread's current CUDA device; nullopt when CUDA has no device here (no
// driver, no GPU), with the reason in `why`. Never throws.
std::optional<std::array<uint8_t, 16>> cuda_device_uuid(std::string& why);

// Blocks until `stream`'s work is done; errors are ignored (used in teardown).
void cuda_stream_wait_quietly(cudaStream_t stream);

// Enqueues on `stream` a write of `value` into every byte of the device target's width x height
// pixels: cudaMemset2DAsync at its row pitch, or a kernel storing through its surface (no copy
// either way, as a decoder's last kernel would write). bench_present's stand-in for a decoder.
void fill_frame_cuda(const FrameTarget& target, uint8_t value, cudaStream_t stream);

// What a SharedImage is made of: RGBA8 with the usage of NVIDIA's vulkanImageCUDA sample. CUDA is
// told nothing of Vulkan's usage flags but COLOR_ATTACHMENT (cudaArrayColorAttachment), while a
// driver may pick an image's memory layout by them, so this stays on the sample's trodden set:
// STORAGE (matches cudaArraySurfaceLoadStore), TRANSFER_SRC (the blit), TRANSFER_DST and SAMPLED.
constexpr VkFormat kSharedImageFormat = VK_FORMAT_R8G8B8A8_UNORM;
constexpr VkImageUsageFlags kSharedImageUsage = VK_IMAGE_USAGE_STORAGE_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT |
                                                VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_SAMPLED_BIT;

// Why `context` cannot make a SharedImage of `extent` whose format has `features` (optimal tiling,
// e.g. BLIT_SRC and, for a linear-filtered blit, SAMPLED_IMAGE_FILTER_LINEAR); "" when it can.
std::string shared_image_support(const VulkanContext& context, VkExtent2D extent, VkFormatFeatureFlags features);

// A Vulkan allocation imported into CUDA, mapped either whole as linear device memory (pointer():
// SharedBuffer) or as a one-level 2D RGBA8 CUDA array with a surface object over it (surface():
// SharedImage). Move-only; releases the surface object, the mipmapped array or the pointer, then
// the import (the reverse of their making).
class CudaMapping {
 public:
  CudaMapping() = default;
  // `memory` (allocated with VkExportMemoryAllocateInfo for opaque fds, `size` bytes) imported and
  // mapped from offset 0 over all of it as linear device memory. Throws wl::Error.
  static CudaMapping as_buffer(VkDevice device, VkDeviceMemory memory, VkDeviceSize size, bool dedicated);
  // The dedicated, exported `memory` of an optimal-tiled R8G8B8A8 image of `extent` with one mip
  // level (`size` bytes, the allocation's size), imported and mapped as that image: a CUDA array of
  // uchar4 with surface load/store, and a surface object over it. Throws wl::Error.
  static CudaMapping as_surface(VkDevice device, VkDeviceMemory memory, VkDeviceSize size, VkExtent2D extent);
  ~CudaMapping() { reset(); }
  CudaMapping(CudaMapping&& other) noexcept
      : memory_(std::exchange(other.memory_, nullptr)),
        pointer_(std::exchange(other.pointer_, nullptr)),
        array_(std::exchange(other.array_, nullptr)),
        surface_(std::exchange(other.surface_, 0)) {}
  CudaMapping& operator=(CudaMapping&& other) noexcept {
    if (this != &other) {
      reset();
      memory_ = std::exchange(other.memory_, nullptr);
      pointer_ = std::exchange(other.pointer_, nullptr);
      array_ = std::exchange(other.array_, nullptr);
      surface_ = std::exchange(other.surface_, 0);
    }
    return *this;
  }
  CudaMapping(const CudaMapping&) = delete;
  CudaMapping& operator=(const CudaMapping&) = delete;

  void* pointer() const { return pointer_; }
  uint64_t surface() const { return surface_; }   // cudaSurfaceObject_t, 0 when mapped as a pointer
  void reset() noexcept;

 private:
  // In the order they were made; reset() releases them in reverse.
  CUexternalMemory_st* memory_ = nullptr;
  void* pointer_ = nullptr;               // mapped from memory_ as a buffer, freed with cudaFree
  cudaMipmappedArray* array_ = nullptr;   // or mapped as an array, freed with cudaFreeMipmappedArray
  uint64_t surface_ = 0;                  // over array_'s level 0, cudaDestroySurfaceObject
};

class SharedImage {
 public:
  SharedImage() = default;
  // An optimal-tiled kSharedImageFormat image of `extent` with kSharedImageUsage, whose format has
  // `features`, in UNDEFINED layout (see record_external_image_init), and its CUDA surface; throws
  // wl::Error naming what the device lacks (shared_image_support tells beforehand) or which CUDA
  // call failed.
  SharedImage(const VulkanContext& context, VkExtent2D extent, VkFormatFeatureFlags features);
  SharedImage(SharedImage&& other) noexcept = default;
  SharedImage& operator=(SharedImage&& other) noexcept;
  SharedImage(const SharedImage&) = delete;
  SharedImage& operator=(const SharedImage&) = delete;

  const ExportableImage& vulkan() const { return vulkan_; }   // the Vulkan half (image, memory, size)
  // The CUDA half: a cudaSurfaceObject_t over the image's pixels, (x, y) at byte 4 * x of row y.
  uint64_t cuda_surface() const { return cuda_.surface(); }

 private:
  // The Vulkan half was made first and is destroyed last (image, then memory): members go in
  // reverse order, and assignment releases the CUDA half first.
  ExportableImage vulkan_;
  CudaMapping cuda_;
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
