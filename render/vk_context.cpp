// VulkanContext: instance, validation messenger, device pick, device and queue; buffer and image
// creation. See vk_context.h.
#include "render/vk_context.h"

#include <algorithm>
#include <cstring>

#include "kernels/core/log.h"
#include "render/vk_check.h"

namespace wl {
namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";
constexpr const char* kLogTag = "vulkan";

bool has_layer(const char* name) {
  uint32_t count = 0;
  vkEnumerateInstanceLayerProperties(&count, nullptr);
  std::vector<VkLayerProperties> layers(count);
  vkEnumerateInstanceLayerProperties(&count, layers.data());
  return std::any_of(layers.begin(), layers.end(),
                     [&](const VkLayerProperties& l) { return std::strcmp(l.layerName, name) == 0; });
}

bool has_device_extension(VkPhysicalDevice device, const char* name) {
  uint32_t count = 0;
  vkEnumerateDeviceExtensionProperties(device, nullptr, &count, nullptr);
  std::vector<VkExtensionProperties> extensions(count);
  vkEnumerateDeviceExtensionProperties(device, nullptr, &count, extensions.data());
  return std::any_of(extensions.begin(), extensions.end(),
                     [&](const VkExtensionProperties& e) { return std::strcmp(e.extensionName, name) == 0; });
}

constexpr std::array<const char*, 2> kInteropExtensions = {VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME,
                                                           VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME};

std::array<uint8_t, 16> device_uuid(VkPhysicalDevice device) {
  VkPhysicalDeviceIDProperties id{};
  id.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES;
  VkPhysicalDeviceProperties2 properties{};
  properties.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
  properties.pNext = &id;
  vkGetPhysicalDeviceProperties2(device, &properties);
  std::array<uint8_t, 16> uuid{};
  std::copy(std::begin(id.deviceUUID), std::end(id.deviceUUID), uuid.begin());
  return uuid;
}

bool has_timeline_semaphores(VkPhysicalDevice device) {
  VkPhysicalDeviceTimelineSemaphoreFeatures timeline{};
  timeline.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES;
  VkPhysicalDeviceFeatures2 features{};
  features.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  features.pNext = &timeline;
  vkGetPhysicalDeviceFeatures2(device, &features);
  return timeline.timelineSemaphore == VK_TRUE;
}

// Discrete GPUs first, software rasterisers (lavapipe) last.
int device_rank(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
  }
}

// Names for the messages of exportable_image_support (the formats and features the engine asks for).
std::string format_name(VkFormat format) {
  switch (format) {
    case VK_FORMAT_R8G8B8A8_UNORM: return "R8G8B8A8_UNORM";
    case VK_FORMAT_B8G8R8A8_UNORM: return "B8G8R8A8_UNORM";
    case VK_FORMAT_R8G8B8A8_SRGB: return "R8G8B8A8_SRGB";
    case VK_FORMAT_B8G8R8A8_SRGB: return "B8G8R8A8_SRGB";
    default: return wl::str("VkFormat ", static_cast<int>(format));
  }
}

std::string feature_names(VkFormatFeatureFlags features) {
  struct Named {
    VkFormatFeatureFlagBits bit;
    const char* name;
  };
  constexpr Named kNames[] = {{VK_FORMAT_FEATURE_SAMPLED_IMAGE_BIT, "SAMPLED_IMAGE"},
                              {VK_FORMAT_FEATURE_STORAGE_IMAGE_BIT, "STORAGE_IMAGE"},
                              {VK_FORMAT_FEATURE_BLIT_SRC_BIT, "BLIT_SRC"},
                              {VK_FORMAT_FEATURE_BLIT_DST_BIT, "BLIT_DST"},
                              {VK_FORMAT_FEATURE_SAMPLED_IMAGE_FILTER_LINEAR_BIT, "SAMPLED_IMAGE_FILTER_LINEAR"},
                              {VK_FORMAT_FEATURE_TRANSFER_SRC_BIT, "TRANSFER_SRC"},
                              {VK_FORMAT_FEATURE_TRANSFER_DST_BIT, "TRANSFER_DST"}};
  std::string out;
  for (const Named& n : kNames) {
    if (!(features & n.bit)) continue;
    out += wl::str(out.empty() ? "" : " | ", n.name);
    features &= ~static_cast<VkFormatFeatureFlags>(n.bit);
  }
  if (features) out += wl::str(out.empty() ? "" : " | ", "0x", std::hex, features);
  return out;
}

VkDebugUtilsMessengerCreateInfoEXT messenger_info(void* self,
                                                  PFN_vkDebugUtilsMessengerCallbackEXT callback) {
  VkDebugUtilsMessengerCreateInfoEXT info{};
  info.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
  info.messageSeverity =
      VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  info.pfnUserCallback = callback;
  info.pUserData = self;
  return info;
}

// A 2D, one-level, single-sample, optimal-tiled image of `extent`, exclusive, starting UNDEFINED:
// every image the presenter makes.
VkImageCreateInfo image_create_info(VkExtent2D extent, VkFormat format, VkImageUsageFlags usage) {
  VkImageCreateInfo create{};
  create.sType = VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO;
  create.imageType = VK_IMAGE_TYPE_2D;
  create.format = format;
  create.extent = {extent.width, extent.height, 1};
  create.mipLevels = 1;
  create.arrayLayers = 1;
  create.samples = VK_SAMPLE_COUNT_1_BIT;
  create.tiling = VK_IMAGE_TILING_OPTIMAL;
  create.usage = usage;
  create.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  create.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
  return create;
}

}  // namespace

// [SECTION] Instance, device and queue

// The loader loads the drivers when an instance is made and unloads them with the last one. NVIDIA's
// driver cannot be loaded again and again in one process: its initial-exec TLS takes static TLS
// space that unloading never returns, and on an H200 the 75th-odd presenter of a process failed with
// "libnvidia-tls.so: cannot allocate memory in static TLS block". So the first context leaves one
// bare instance alive for the life of the process, and later contexts find the drivers loaded.
namespace {
void keep_drivers_loaded() {
  static const VkInstance kept = [] {
    VkApplicationInfo app{};
    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app.pEngineName = "worldloop (keeps the drivers loaded)";
    app.apiVersion = VK_API_VERSION_1_2;
    VkInstanceCreateInfo create{};
    create.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    create.pApplicationInfo = &app;
    VkInstance instance = VK_NULL_HANDLE;
    return vkCreateInstance(&create, nullptr, &instance) == VK_SUCCESS ? instance : VK_NULL_HANDLE;   // never destroyed
  }();
  (void)kept;
}
}  // namespace

VulkanContext::VulkanContext(const VulkanContextInfo& info) {
  keep_drivers_loaded();
  std::vector<const char*> extensions = info.instance_extensions;
  std::vector<const char*> layers;
  if (info.validation) {
    WL_CHECK(has_layer(kValidationLayer), "validation was requested but ", kValidationLayer,
             " is not installed; install the vulkan-validationlayers package or turn validation off");
    layers.push_back(kValidationLayer);
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  }

  VkApplicationInfo app{};
  app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
  app.pApplicationName = info.app_name;
  app.pEngineName = "worldloop";
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo create{};
  create.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
  create.pApplicationInfo = &app;
  create.enabledLayerCount = static_cast<uint32_t>(layers.size());
  create.ppEnabledLayerNames = layers.data();
  create.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  create.ppEnabledExtensionNames = extensions.data();
  // Chained so that messages from vkCreateInstance and vkDestroyInstance are counted too.
  VkDebugUtilsMessengerCreateInfoEXT messenger_create = messenger_info(this, &VulkanContext::on_message);
  if (info.validation) create.pNext = &messenger_create;
  VkInstance instance = VK_NULL_HANDLE;
  WL_VK_CHECK(vkCreateInstance(&create, nullptr, &instance));
  instance_ = UniqueInstance(instance);

  if (info.validation) {
    auto create_messenger = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
    auto destroy_messenger = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
    WL_CHECK(create_messenger && destroy_messenger, "the Vulkan loader has no ",
             VK_EXT_DEBUG_UTILS_EXTENSION_NAME, " functions");
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    WL_VK_CHECK(create_messenger(instance, &messenger_create, nullptr, &messenger));
    messenger_ = UniqueMessenger(instance, messenger, destroy_messenger);
  }

  if (info.create_surface) surface_ = UniqueSurface(instance, info.create_surface(instance), vkDestroySurfaceKHR);
  pick_physical_device(static_cast<bool>(surface_.get()), info.device_uuid);

  float priority = 1.f;
  VkDeviceQueueCreateInfo queue_create{};
  queue_create.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
  queue_create.queueFamilyIndex = queue_family_;
  queue_create.queueCount = 1;
  queue_create.pQueuePriorities = &priority;
  std::vector<const char*> device_extensions;
  if (surface_.get()) device_extensions.push_back(VK_KHR_SWAPCHAIN_EXTENSION_NAME);
  VkPhysicalDeviceTimelineSemaphoreFeatures timeline{};
  timeline.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES;
  timeline.timelineSemaphore = VK_TRUE;
  VkDeviceCreateInfo device_create{};
  device_create.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
  if (interop_) {
    device_extensions.insert(device_extensions.end(), kInteropExtensions.begin(), kInteropExtensions.end());
    device_create.pNext = &timeline;
  }
  device_create.queueCreateInfoCount = 1;
  device_create.pQueueCreateInfos = &queue_create;
  device_create.enabledExtensionCount = static_cast<uint32_t>(device_extensions.size());
  device_create.ppEnabledExtensionNames = device_extensions.data();
  VkDevice device = VK_NULL_HANDLE;
  WL_VK_CHECK(vkCreateDevice(physical_device_, &device_create, nullptr, &device));
  device_ = UniqueDevice(device);
  vkGetDeviceQueue(device, queue_family_, 0, &queue_);

  VkCommandPoolCreateInfo pool_create{};
  pool_create.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
  pool_create.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
  pool_create.queueFamilyIndex = queue_family_;
  VkCommandPool pool = VK_NULL_HANDLE;
  WL_VK_CHECK(vkCreateCommandPool(device, &pool_create, nullptr, &pool));
  setup_pool_ = UniqueCommandPool(device, pool);
  WL_LOG_INFO(kLogTag, "device ", device_name_, ", queue family ", queue_family_,
              info.validation ? ", validation on" : "", interop_ ? ", CUDA interop on" : "");
}

VulkanContext::~VulkanContext() {
  if (device_.get()) vkDeviceWaitIdle(device_.get());
}

void VulkanContext::pick_physical_device(bool need_present, const std::optional<std::array<uint8_t, 16>>& uuid) {
  uint32_t count = 0;
  WL_VK_CHECK(vkEnumeratePhysicalDevices(instance_.get(), &count, nullptr));
  std::vector<VkPhysicalDevice> devices(count);
  WL_VK_CHECK(vkEnumeratePhysicalDevices(instance_.get(), &count, devices.data()));

  int best_rank = -1;
  std::string seen;
  for (VkPhysicalDevice device : devices) {
    VkPhysicalDeviceProperties properties;
    vkGetPhysicalDeviceProperties(device, &properties);
    seen += wl::str(seen.empty() ? "" : ", ", properties.deviceName);
    if (need_present && !has_device_extension(device, VK_KHR_SWAPCHAIN_EXTENSION_NAME)) continue;
    uint32_t family_count = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(device, &family_count, nullptr);
    std::vector<VkQueueFamilyProperties> families(family_count);
    vkGetPhysicalDeviceQueueFamilyProperties(device, &family_count, families.data());
    for (uint32_t family = 0; family < family_count; ++family) {
      if (!(families[family].queueFlags & VK_QUEUE_GRAPHICS_BIT)) continue;
      if (need_present) {
        VkBool32 supported = VK_FALSE;
        vkGetPhysicalDeviceSurfaceSupportKHR(device, family, surface_.get(), &supported);
        if (!supported) continue;
      }
      // The CUDA device's twin outranks every other device: frames are shared only within one GPU.
      bool twin = uuid && device_uuid(device) == *uuid;
      int rank = device_rank(properties.deviceType) + (twin ? 100 : 0);
      if (rank > best_rank) {
        best_rank = rank;
        physical_device_ = device;
        queue_family_ = family;
        device_name_ = properties.deviceName;
      }
      break;
    }
  }
  WL_CHECK(physical_device_ != VK_NULL_HANDLE, "no Vulkan device has a graphics queue",
           need_present ? " that can present to the window" : "", " (devices seen: ",
           seen.empty() ? "none" : seen, "); without a GPU install mesa-vulkan-drivers and set "
           "VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json");

  if (!uuid) {
    interop_note_ = "no CUDA device to share with";
  } else if (device_uuid(physical_device_) != *uuid) {
    interop_note_ = wl::str("no usable Vulkan device has the CUDA device's UUID (devices seen: ", seen, ")");
  } else if (!std::all_of(kInteropExtensions.begin(), kInteropExtensions.end(),
                          [&](const char* e) { return has_device_extension(physical_device_, e); })) {
    interop_note_ = wl::str(device_name_, " lacks ", kInteropExtensions[0], " or ", kInteropExtensions[1]);
  } else if (!has_timeline_semaphores(physical_device_)) {
    interop_note_ = wl::str(device_name_, " has no timeline semaphores");
  } else {
    interop_ = true;
  }
}

VKAPI_ATTR VkBool32 VKAPI_CALL VulkanContext::on_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT,
    const VkDebugUtilsMessengerCallbackDataEXT* data, void* self) {
  static_cast<VulkanContext*>(self)->validation_messages_.fetch_add(1);
  const char* text = data && data->pMessage ? data->pMessage : "(no message)";
  if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)
    WL_LOG_ERROR(kLogTag, text);
  else
    WL_LOG_WARN(kLogTag, text);
  return VK_FALSE;
}

// [SECTION] Memory, buffers and images

uint32_t VulkanContext::memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                                    VkMemoryPropertyFlags preferred) const {
  VkPhysicalDeviceMemoryProperties memory;
  vkGetPhysicalDeviceMemoryProperties(physical_device_, &memory);
  for (VkMemoryPropertyFlags wanted : {required | preferred, required}) {
    for (uint32_t i = 0; i < memory.memoryTypeCount; ++i)
      if ((type_bits & (1u << i)) && (memory.memoryTypes[i].propertyFlags & wanted) == wanted) return i;
  }
  WL_FAIL("device ", device_name_, " has no memory type with property flags ", required,
          " among the types in mask ", type_bits);
}

GpuBuffer VulkanContext::create_buffer(VkDeviceSize size, VkBufferUsageFlags usage,
                                       VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) const {
  VkDevice device = device_.get();
  GpuBuffer out;
  out.size = size;
  VkBufferCreateInfo create{};
  create.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
  create.size = size;
  create.usage = usage;
  create.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkBuffer buffer = VK_NULL_HANDLE;
  WL_VK_CHECK(vkCreateBuffer(device, &create, nullptr, &buffer));
  out.buffer = UniqueBuffer(device, buffer);

  VkMemoryRequirements needs;
  vkGetBufferMemoryRequirements(device, buffer, &needs);
  VkMemoryAllocateInfo allocate{};
  allocate.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
  allocate.allocationSize = needs.size;
  allocate.memoryTypeIndex = memory_type(needs.memoryTypeBits, required, preferred);
  VkDeviceMemory memory = VK_NULL_HANDLE;
  WL_VK_CHECK(vkAllocateMemory(device, &allocate, nullptr, &memory));
  out.memory = UniqueMemory(device, memory);
  WL_VK_CHECK(vkBindBufferMemory(device, buffer, memory, 0));
  if (required & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)
    WL_VK_CHECK(vkMapMemory(device, memory, 0, VK_WHOLE_SIZE, 0, &out.mapped));
  return out;
}

GpuImage VulkanContext::create_image(VkExtent2D extent, VkFormat format, VkImageUsageFlags usage) const {
  VkDevice device = device_.get();
  GpuImage out;
  out.format = format;
  out.extent = extent;
  VkImageCreateInfo create = image_create_info(extent, format, usage);
  VkImage image = VK_NULL_HANDLE;
  WL_VK_CHECK(vkCreateImage(device, &create, nullptr, &image));
  out.image = UniqueImage(device, image);

  VkMemoryRequirements needs;
  vkGetImageMemoryRequirements(device, image, &needs);
  VkMemoryAllocateInfo allocate{};
  allocate.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
  allocate.allocationSize = needs.size;
  allocate.memoryTypeIndex = memory_type(needs.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  VkDeviceMemory memory = VK_NULL_HANDLE;
  WL_VK_CHECK(vkAllocateMemory(device, &allocate, nullptr, &memory));
  out.memory = UniqueMemory(device, memory);
  WL_VK_CHECK(vkBindImageMemory(device, image, memory, 0));
  return out;
}

std::string VulkanContext::exportable_image_support(VkExtent2D extent, VkFormat format, VkImageUsageFlags usage,
                                                    VkFormatFeatureFlags features,
                                                    VkExternalMemoryHandleTypeFlags export_handle) const {
  const std::string what = wl::str("an optimal-tiled ", format_name(format), " image of ", extent.width, "x",
                                   extent.height, " with usage 0x", std::hex, usage, std::dec,
                                   export_handle ? wl::str(" and memory exportable as handle type 0x", std::hex,
                                                           export_handle)
                                                 : std::string());
  VkFormatProperties format_properties;
  vkGetPhysicalDeviceFormatProperties(physical_device_, format, &format_properties);
  if (VkFormatFeatureFlags missing = features & ~format_properties.optimalTilingFeatures)
    return wl::str(device_name_, " cannot make ", what, ": its optimal-tiling features lack ", feature_names(missing));

  VkPhysicalDeviceExternalImageFormatInfo external_query{};
  external_query.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_IMAGE_FORMAT_INFO;
  external_query.handleType = static_cast<VkExternalMemoryHandleTypeFlagBits>(export_handle);
  VkPhysicalDeviceImageFormatInfo2 query{};
  query.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_IMAGE_FORMAT_INFO_2;
  query.pNext = export_handle ? &external_query : nullptr;
  query.format = format;
  query.type = VK_IMAGE_TYPE_2D;
  query.tiling = VK_IMAGE_TILING_OPTIMAL;
  query.usage = usage;
  VkExternalImageFormatProperties external{};
  external.sType = VK_STRUCTURE_TYPE_EXTERNAL_IMAGE_FORMAT_PROPERTIES;
  VkImageFormatProperties2 properties{};
  properties.sType = VK_STRUCTURE_TYPE_IMAGE_FORMAT_PROPERTIES_2;
  properties.pNext = export_handle ? &external : nullptr;
  VkResult result = vkGetPhysicalDeviceImageFormatProperties2(physical_device_, &query, &properties);
  if (result == VK_ERROR_FORMAT_NOT_SUPPORTED)
    return wl::str(device_name_, " cannot make ", what, " (vkGetPhysicalDeviceImageFormatProperties2: ",
                   "VK_ERROR_FORMAT_NOT_SUPPORTED)");
  WL_VK_CHECK(result);
  const VkExtent3D& limit = properties.imageFormatProperties.maxExtent;
  if (extent.width > limit.width || extent.height > limit.height)
    return wl::str(device_name_, " cannot make ", what, ": such images are limited to ", limit.width, "x",
                   limit.height);
  if (export_handle &&
      !(external.externalMemoryProperties.externalMemoryFeatures & VK_EXTERNAL_MEMORY_FEATURE_EXPORTABLE_BIT))
    return wl::str(device_name_, " cannot make ", what, ": that memory is not exportable");
  return "";
}

ExportableImage VulkanContext::create_exportable_image(VkExtent2D extent, VkFormat format, VkImageUsageFlags usage,
                                                       VkFormatFeatureFlags features,
                                                       VkExternalMemoryHandleTypeFlags export_handle) const {
  const std::string why_not = exportable_image_support(extent, format, usage, features, export_handle);
  WL_CHECK(why_not.empty(), why_not);
  VkDevice device = device_.get();
  ExportableImage out;
  out.image.format = format;
  out.image.extent = extent;
  VkExternalMemoryImageCreateInfo external{};
  external.sType = VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_IMAGE_CREATE_INFO;
  external.handleTypes = export_handle;
  VkImageCreateInfo create = image_create_info(extent, format, usage);
  create.pNext = export_handle ? &external : nullptr;
  VkImage image = VK_NULL_HANDLE;
  WL_VK_CHECK(vkCreateImage(device, &create, nullptr, &image));
  out.image.image = UniqueImage(device, image);

  VkMemoryRequirements needs;
  vkGetImageMemoryRequirements(device, image, &needs);
  out.allocation_size = needs.size;
  // Dedicated always: any image may have one, and an importer that maps the memory as an array
  // (CUDA) is told so (cudaExternalMemoryDedicated), so both sides agree on what the memory holds.
  VkMemoryDedicatedAllocateInfo dedicated{};
  dedicated.sType = VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO;
  dedicated.image = image;
  VkExportMemoryAllocateInfo export_info{};
  export_info.sType = VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO;
  export_info.pNext = &dedicated;
  export_info.handleTypes = export_handle;
  VkMemoryAllocateInfo allocate{};
  allocate.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
  allocate.pNext = export_handle ? static_cast<const void*>(&export_info) : static_cast<const void*>(&dedicated);
  allocate.allocationSize = out.allocation_size;
  allocate.memoryTypeIndex = memory_type(needs.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  VkDeviceMemory memory = VK_NULL_HANDLE;
  WL_VK_CHECK(vkAllocateMemory(device, &allocate, nullptr, &memory));
  out.image.memory = UniqueMemory(device, memory);
  WL_VK_CHECK(vkBindImageMemory(device, image, memory, 0));
  return out;
}

void VulkanContext::submit_and_wait(const std::function<void(VkCommandBuffer)>& record) const {
  VkDevice device = device_.get();
  VkCommandBufferAllocateInfo allocate{};
  allocate.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
  allocate.commandPool = setup_pool_.get();
  allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  allocate.commandBufferCount = 1;
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  WL_VK_CHECK(vkAllocateCommandBuffers(device, &allocate, &cmd));
  // Freed on every path, including a throwing `record`.
  struct FreeOnExit {
    VkDevice device;
    VkCommandPool pool;
    VkCommandBuffer cmd;
    ~FreeOnExit() { vkFreeCommandBuffers(device, pool, 1, &cmd); }
  } free_on_exit{device, setup_pool_.get(), cmd};

  VkCommandBufferBeginInfo begin{};
  begin.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  WL_VK_CHECK(vkBeginCommandBuffer(cmd, &begin));
  record(cmd);
  WL_VK_CHECK(vkEndCommandBuffer(cmd));
  VkFenceCreateInfo fence_create{};
  fence_create.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
  VkFence fence_raw = VK_NULL_HANDLE;
  WL_VK_CHECK(vkCreateFence(device, &fence_create, nullptr, &fence_raw));
  UniqueFence fence(device, fence_raw);
  VkSubmitInfo submit{};
  submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &cmd;
  WL_VK_CHECK(vkQueueSubmit(queue_, 1, &submit, fence.get()));
  WL_VK_CHECK(vkWaitForFences(device, 1, fence.ptr(), VK_TRUE, UINT64_MAX));
}

}  // namespace wl
