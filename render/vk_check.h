// WL_VK_CHECK(call): throws wl::Error naming the Vulkan call, its VkResult and file:line.
// Debian's Vulkan headers (1.3.239) lack vk_enum_string_helper.h, hence vk_result_name().
#pragma once

#include <vulkan/vulkan.h>

#include "kernels/core/error.h"

namespace wl {
const char* vk_result_name(VkResult result);   // "VK_ERROR_DEVICE_LOST"
}  // namespace wl

#define WL_VK_CHECK(call)                                                                        \
  do {                                                                                           \
    VkResult wl_vk_result_ = (call);                                                             \
    if (wl_vk_result_ != VK_SUCCESS) [[unlikely]]                                                \
      ::wl::detail::throw_check(__FILE__, __LINE__, "Vulkan call `" #call "`",                   \
                                ::wl::str("Vulkan error ", ::wl::vk_result_name(wl_vk_result_))); \
  } while (0)
