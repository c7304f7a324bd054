// SharedImage, SharedBuffer and SharedTimeline: export from Vulkan, import into CUDA. See cuda_interop.h.
// fill_frame_cuda's kernel lives in render/fill_frame.cu.
//
// The call sequence follows cuda-samples' simpleVulkan (the calls, not its error handling): create
// with an export info chained, get the fd (vkGetMemoryFdKHR / vkGetSemaphoreFdKHR), import it into
// CUDA, which then owns the fd (it is closed here only when the import fails).
#include "render/cuda_interop.h"

#include <cuda_runtime_api.h>
#include <unistd.h>

#include <utility>

#include "kernels/cuda_check.h"
#include "render/vk_check.h"

namespace wl {
namespace {

template <typename Fn>
Fn device_function(VkDevice device, const char* name) {
  auto fn = reinterpret_cast<Fn>(vkGetDeviceProcAddr(device, name));
  WL_CHECK(fn, "the Vulkan device has no ", name, "; make the VulkanContext with device_uuid set and check interop()");
  return fn;
}

// Closes an fd that CUDA did not take over.
struct FdGuard {
  int fd = -1;
  ~FdGuard() {
    if (fd >= 0) close(fd);
  }
};

// Exports `memory` (made with VkExportMemoryAllocateInfo for opaque fds) and imports all `size`
// bytes of it into CUDA (which then owns the fd). Throws wl::Error.
cudaExternalMemory_t import_into_cuda(VkDevice device, VkDeviceMemory memory, VkDeviceSize size, bool dedicated) {
  VkMemoryGetFdInfoKHR fd_info{};
  fd_info.sType = VK_STRUCTURE_TYPE_MEMORY_GET_FD_INFO_KHR;
  fd_info.memory = memory;
  fd_info.handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT;
  FdGuard fd;
  WL_VK_CHECK(device_function<PFN_vkGetMemoryFdKHR>(device, "vkGetMemoryFdKHR")(device, &fd_info, &fd.fd));

  cudaExternalMemoryHandleDesc import{};
  import.type = cudaExternalMemoryHandleTypeOpaqueFd;
  import.handle.fd = fd.fd;
  import.size = size;
  import.flags = dedicated ? cudaExternalMemoryDedicated : 0;
  cudaExternalMemory_t imported = nullptr;
  WL_CUDA_CHECK(cudaImportExternalMemory(&imported, &import));
  fd.fd = -1;   // CUDA owns it now
  return imported;
}

}  // namespace

// [SECTION] CudaMapping

void CudaMapping::reset() noexcept {
  // The reverse of their making, and all before Vulkan frees the memory: the surface object, the
  // array it views (or the buffer mapping), then the import they came from.
  if (surface_) cudaDestroySurfaceObject(surface_);
  if (array_) cudaFreeMipmappedArray(array_);
  if (pointer_) cudaFree(pointer_);
  if (memory_) cudaDestroyExternalMemory(memory_);
  surface_ = 0;
  array_ = nullptr;
  pointer_ = nullptr;
  memory_ = nullptr;
}

CudaMapping CudaMapping::as_buffer(VkDevice device, VkDeviceMemory memory, VkDeviceSize size, bool dedicated) {
  CudaMapping out;   // releases what was made so far if a step below throws
  out.memory_ = import_into_cuda(device, memory, size, dedicated);
  cudaExternalMemoryBufferDesc mapping{};
  mapping.offset = 0;
  mapping.size = size;
  WL_CUDA_CHECK(cudaExternalMemoryGetMappedBuffer(&out.pointer_, out.memory_, &mapping));
  return out;
}

// Mapped as what the image is: a one-level 2D array (depth 0 means 2D) of four unsigned 8-bit
// channels, the image's extent, with surface load/store (the image has STORAGE usage).
CudaMapping CudaMapping::as_surface(VkDevice device, VkDeviceMemory memory, VkDeviceSize size, VkExtent2D extent) {
  CudaMapping out;
  out.memory_ = import_into_cuda(device, memory, size, /*dedicated=*/true);
  cudaExternalMemoryMipmappedArrayDesc mapping{};
  mapping.offset = 0;
  mapping.formatDesc = cudaCreateChannelDesc(8, 8, 8, 8, cudaChannelFormatKindUnsigned);
  mapping.extent.width = extent.width;
  mapping.extent.height = extent.height;
  mapping.extent.depth = 0;
  mapping.flags = cudaArraySurfaceLoadStore;
  mapping.numLevels = 1;
  WL_CUDA_CHECK(cudaExternalMemoryGetMappedMipmappedArray(&out.array_, out.memory_, &mapping));
  cudaArray_t level = nullptr;
  WL_CUDA_CHECK(cudaGetMipmappedArrayLevel(&level, out.array_, 0));   // owned by the mipmapped array
  cudaResourceDesc resource{};
  resource.resType = cudaResourceTypeArray;
  resource.res.array.array = level;
  cudaSurfaceObject_t surface = 0;
  WL_CUDA_CHECK(cudaCreateSurfaceObject(&surface, &resource));
  out.surface_ = surface;
  // FrameTarget and PackRGBA8Params read 0 as "no surface".
  WL_CHECK(surface != 0, "cudaCreateSurfaceObject returned surface object 0, which FrameTarget reserves for "
           "\"no surface\"; use PresenterInfo::cuda_image_surface = false");
  return out;
}

// [SECTION] Devices and streams

std::optional<std::array<uint8_t, 16>> cuda_device_uuid(std::string& why) {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    why = status != cudaSuccess ? str("cudaGetDeviceCount: ", cudaGetErrorString(status)) : "no CUDA device";
    cudaGetLastError();   // leave no error behind for the next CUDA call
    return std::nullopt;
  }
  int device = 0;
  cudaDeviceProp properties{};
  if ((status = cudaGetDevice(&device)) != cudaSuccess ||
      (status = cudaGetDeviceProperties(&properties, device)) != cudaSuccess) {
    why = str("CUDA device properties: ", cudaGetErrorString(status));
    cudaGetLastError();
    return std::nullopt;
  }
  std::array<uint8_t, 16> uuid{};
  for (int i = 0; i < 16; ++i) uuid[i] = static_cast<uint8_t>(properties.uuid.bytes[i]);
  return uuid;
}

void cuda_stream_wait_quietly(cudaStream_t stream) {
  if (cudaStreamSynchronize(stream) != cudaSuccess) cudaGetLastError();
}

// [SECTION] SharedImage

std::string shared_image_support(const VulkanContext& context, VkExtent2D extent, VkFormatFeatureFlags features) {
  if (!context.interop()) return str("no Vulkan device shared with CUDA: ", context.interop_note());
  return context.exportable_image_support(extent, kSharedImageFormat, kSharedImageUsage,
                                          features | VK_FORMAT_FEATURE_STORAGE_IMAGE_BIT,
                                          VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT);
}

SharedImage::SharedImage(const VulkanContext& context, VkExtent2D extent, VkFormatFeatureFlags features) {
  WL_CHECK(context.interop(), "SharedImage needs a Vulkan device shared with CUDA: ", context.interop_note());
  vulkan_ = context.create_exportable_image(extent, kSharedImageFormat, kSharedImageUsage,
                                            features | VK_FORMAT_FEATURE_STORAGE_IMAGE_BIT,
                                            VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT);
  // The whole dedicated allocation, as Vulkan sized it; CUDA lays the array out from the format,
  // extent and level count given, which are the image's own.
  cuda_ = CudaMapping::as_surface(context.device(), vulkan_.image.memory.get(), vulkan_.allocation_size, extent);
}

SharedImage& SharedImage::operator=(SharedImage&& other) noexcept {
  if (this != &other) {
    cuda_ = std::move(other.cuda_);   // the old CUDA half goes before the Vulkan memory it maps
    vulkan_ = std::move(other.vulkan_);
  }
  return *this;
}

// [SECTION] SharedBuffer

SharedBuffer::SharedBuffer(const VulkanContext& context, VkDeviceSize size, VkBufferUsageFlags usage) {
  WL_CHECK(context.interop(), "SharedBuffer needs a Vulkan device shared with CUDA: ", context.interop_note());
  VkDevice device = context.device();
  constexpr auto kHandle = VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT;

  VkPhysicalDeviceExternalBufferInfo query{};
  query.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_BUFFER_INFO;
  query.usage = usage;
  query.handleType = kHandle;
  VkExternalBufferProperties supported{};
  supported.sType = VK_STRUCTURE_TYPE_EXTERNAL_BUFFER_PROPERTIES;
  vkGetPhysicalDeviceExternalBufferProperties(context.physical_device(), &query, &supported);
  WL_CHECK(supported.externalMemoryProperties.externalMemoryFeatures & VK_EXTERNAL_MEMORY_FEATURE_EXPORTABLE_BIT,
           context.device_name(), " cannot export buffer memory as an opaque fd");

  VkExternalMemoryBufferCreateInfo external{};
  external.sType = VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO;
  external.handleTypes = kHandle;
  VkBufferCreateInfo create{};
  create.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
  create.pNext = &external;
  create.size = size;
  create.usage = usage;
  create.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkBuffer buffer = VK_NULL_HANDLE;
  WL_VK_CHECK(vkCreateBuffer(device, &create, nullptr, &buffer));
  vulkan_.buffer = UniqueBuffer(device, buffer);
  vulkan_.size = size;

  VkMemoryDedicatedRequirements dedicated_needs{};
  dedicated_needs.sType = VK_STRUCTURE_TYPE_MEMORY_DEDICATED_REQUIREMENTS;
  VkMemoryRequirements2 needs{};
  needs.sType = VK_STRUCTURE_TYPE_MEMORY_REQUIREMENTS_2;
  needs.pNext = &dedicated_needs;
  VkBufferMemoryRequirementsInfo2 needs_query{};
  needs_query.sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_REQUIREMENTS_INFO_2;
  needs_query.buffer = buffer;
  vkGetBufferMemoryRequirements2(device, &needs_query, &needs);
  const bool dedicated = dedicated_needs.prefersDedicatedAllocation || dedicated_needs.requiresDedicatedAllocation;

  VkMemoryDedicatedAllocateInfo dedicated_info{};
  dedicated_info.sType = VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO;
  dedicated_info.buffer = buffer;
  VkExportMemoryAllocateInfo export_info{};
  export_info.sType = VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO;
  export_info.pNext = dedicated ? &dedicated_info : nullptr;
  export_info.handleTypes = kHandle;
  VkMemoryAllocateInfo allocate{};
  allocate.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
  allocate.pNext = &export_info;
  allocate.allocationSize = needs.memoryRequirements.size;
  allocate.memoryTypeIndex =
      context.memory_type(needs.memoryRequirements.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  VkDeviceMemory memory = VK_NULL_HANDLE;
  WL_VK_CHECK(vkAllocateMemory(device, &allocate, nullptr, &memory));
  vulkan_.memory = UniqueMemory(device, memory);
  WL_VK_CHECK(vkBindBufferMemory(device, buffer, memory, 0));

  cuda_ = CudaMapping::as_buffer(device, memory, allocate.allocationSize, dedicated);
}

SharedBuffer& SharedBuffer::operator=(SharedBuffer&& other) noexcept {
  if (this != &other) {
    cuda_ = std::move(other.cuda_);   // the old CUDA half goes before the Vulkan memory it maps
    vulkan_ = std::move(other.vulkan_);
  }
  return *this;
}

// [SECTION] SharedTimeline

SharedTimeline::SharedTimeline(const VulkanContext& context, uint64_t initial) {
  WL_CHECK(context.interop(), "SharedTimeline needs a Vulkan device shared with CUDA: ", context.interop_note());
  VkDevice device = context.device();
  constexpr auto kHandle = VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT;

  VkSemaphoreTypeCreateInfo type{};
  type.sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO;
  type.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
  type.initialValue = initial;
  VkPhysicalDeviceExternalSemaphoreInfo query{};
  query.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_SEMAPHORE_INFO;
  query.pNext = &type;
  query.handleType = kHandle;
  VkExternalSemaphoreProperties supported{};
  supported.sType = VK_STRUCTURE_TYPE_EXTERNAL_SEMAPHORE_PROPERTIES;
  vkGetPhysicalDeviceExternalSemaphoreProperties(context.physical_device(), &query, &supported);
  WL_CHECK(supported.externalSemaphoreFeatures & VK_EXTERNAL_SEMAPHORE_FEATURE_EXPORTABLE_BIT,
           context.device_name(), " cannot export a timeline semaphore as an opaque fd");

  VkExportSemaphoreCreateInfo export_info{};
  export_info.sType = VK_STRUCTURE_TYPE_EXPORT_SEMAPHORE_CREATE_INFO;
  export_info.pNext = &type;
  export_info.handleTypes = kHandle;
  VkSemaphoreCreateInfo create{};
  create.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO;
  create.pNext = &export_info;
  VkSemaphore semaphore = VK_NULL_HANDLE;
  WL_VK_CHECK(vkCreateSemaphore(device, &create, nullptr, &semaphore));
  vulkan_ = UniqueSemaphore(device, semaphore);

  VkSemaphoreGetFdInfoKHR fd_info{};
  fd_info.sType = VK_STRUCTURE_TYPE_SEMAPHORE_GET_FD_INFO_KHR;
  fd_info.semaphore = semaphore;
  fd_info.handleType = kHandle;
  FdGuard fd;
  WL_VK_CHECK(device_function<PFN_vkGetSemaphoreFdKHR>(device, "vkGetSemaphoreFdKHR")(device, &fd_info, &fd.fd));

  cudaExternalSemaphoreHandleDesc import{};
  import.type = cudaExternalSemaphoreHandleTypeTimelineSemaphoreFd;
  import.handle.fd = fd.fd;
  cudaExternalSemaphore_t imported = nullptr;
  WL_CUDA_CHECK(cudaImportExternalSemaphore(&imported, &import));
  fd.fd = -1;   // CUDA owns it now
  cuda_ = imported;
}

SharedTimeline::~SharedTimeline() { release_cuda(); }

SharedTimeline::SharedTimeline(SharedTimeline&& other) noexcept
    : vulkan_(std::move(other.vulkan_)), cuda_(std::exchange(other.cuda_, nullptr)) {}

SharedTimeline& SharedTimeline::operator=(SharedTimeline&& other) noexcept {
  if (this != &other) {
    release_cuda();
    vulkan_ = std::move(other.vulkan_);
    cuda_ = std::exchange(other.cuda_, nullptr);
  }
  return *this;
}

void SharedTimeline::release_cuda() noexcept {
  if (cuda_) cudaDestroyExternalSemaphore(cuda_);
  cuda_ = nullptr;
}

void SharedTimeline::cuda_signal(uint64_t value, cudaStream_t stream) const {
  cudaExternalSemaphoreSignalParams params{};
  params.params.fence.value = value;
  cudaExternalSemaphore_t semaphore = cuda_;
  WL_CUDA_CHECK(cudaSignalExternalSemaphoresAsync(&semaphore, &params, 1, stream));
}

void SharedTimeline::cuda_wait(uint64_t value, cudaStream_t stream) const {
  cudaExternalSemaphoreWaitParams params{};
  params.params.fence.value = value;
  cudaExternalSemaphore_t semaphore = cuda_;
  WL_CUDA_CHECK(cudaWaitExternalSemaphoresAsync(&semaphore, &params, 1, stream));
}

uint64_t SharedTimeline::value(VkDevice device) const {
  uint64_t out = 0;
  WL_VK_CHECK(vkGetSemaphoreCounterValue(device, vulkan_.get(), &out));
  return out;
}

}  // namespace wl
