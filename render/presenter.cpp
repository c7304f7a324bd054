// Presenter: frame slots, swapchain upkeep and the per-frame command recording. See presenter.h.
//
// Per frame: begin_frame() waits for the slot's fence and frees what the slot retired; present()
// acquires a swapchain image (windowed), records upload -> clear + letterbox blit -> present layout
// (or -> readback, headless), submits with the slot's fence and presents. On the CUDA path there
// is no upload: by default (the image surface, PresenterInfo::cuda_image_surface) the blit reads the
// slot's SharedImage, which CUDA wrote through a surface object, directly, taken over from the
// external queue family and handed back after the blit; on the buffer fallback a device copy from
// the slot's SharedBuffer (which CUDA wrote) into the slot's image comes first. The submission also
// waits on the `written` timeline (CUDA signals frame n) and signals `read` (CUDA waits before
// reusing the slot).
// Swapchain changes are handled here and reported as FrameStatus::SwapchainStale. The window half builds only with
// WL_WITH_WINDOW (SDL2 present); headless builds (the GPU server) refuse windowed presenters.
#include "render/presenter.h"

#include <array>
#include <chrono>
#include <cstring>
#include <optional>

#include "kernels/core/log.h"
#include "render/deletion_queue.h"
#include "render/frame_blit.h"
#include "render/overlay_renderer.h"
#include "render/swapchain.h"
#include "render/vk_check.h"
#include "render/vk_context.h"
#ifdef WL_WITH_WINDOW
#include "render/window.h"
#endif
#ifdef WL_WITH_CUDA
#include "render/cuda_interop.h"
#endif

namespace wl {
namespace {

constexpr const char* kLogTag = "present";
constexpr VkFormat kFrameFormat = VK_FORMAT_R8G8B8A8_UNORM;

// Everything one frame in flight uses. Declared in creation order; C++ destroys it in reverse,
// the retired owners first.
struct FrameSlot {
  UniqueCommandPool pool;
  VkCommandBuffer cmd = VK_NULL_HANDLE;   // freed with `pool`
  UniqueFence done;                        // signalled when the slot's last submission finished
  UniqueSemaphore image_acquired;          // windowed: the swapchain image may be written
  GpuBuffer staging;                       // host path: host-visible; the FrameTarget points into it
#ifdef WL_WITH_CUDA
  SharedImage shared_image;                // CUDA ImageSurface: the FrameTarget is its CUDA surface
  SharedBuffer shared;                     // CUDA BufferCopy (fallback): the FrameTarget points into it
#endif
  GpuImage source;                         // host path and BufferCopy: the frame, device-local, blitted from
  GpuImage output;                         // headless: the composed output
  GpuBuffer readback;                      // headless: the output in host memory
  UniqueImageView output_view;             // headless with overlay: the pass draws through these
  UniqueFramebuffer output_framebuffer;
  DeletionQueue retired;                   // freed when `done` next signals
};

}  // namespace

struct Presenter::Impl {
  explicit Impl(const PresenterInfo& info);
  ~Impl();
  FrameSlot make_slot() const;
  bool windowed() const { return swapchain.has_value(); }
  FrameStatus present_windowed(FrameSlot& slot);
  FrameStatus present_headless(FrameSlot& slot);
  void record(FrameSlot& slot, VkImage output, VkExtent2D extent, VkFramebuffer overlay_target);
  void submit(FrameSlot& slot, VkSemaphore wait, VkSemaphore signal);
  void set_up_cuda_path();
  VkExtent2D frame_extent() const;
  // Optimal-tiling features the blit needs from a SharedImage's format.
  VkFormatFeatureFlags shared_image_features() const;
  void release_unsubmitted_frame();
  bool cuda_path() const { return stats.frame_path == FramePath::CudaInterop; }
  bool image_surface() const { return stats.cuda_frame_memory == CudaFrameMemory::ImageSurface; }
  void recreate_swapchain(VkExtent2D size, FrameSlot& slot);

  PresenterInfo info;
  PresenterStats stats;
  uint32_t current = 0;        // the slot begin_frame() handed out
  bool in_frame = false;       // between begin_frame() and present()
  int last_presented = -1;     // headless: the slot holding the newest output
  uint64_t frame_number = 0;   // frames begun so far; the timeline value of the current frame
  bool submitted = false;      // present() submitted this frame's work
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_present = start;
  // Declared in creation order; destroyed in reverse: slots (with retired swapchains), the
  // swapchain (and its framebuffers), the overlay, the shared timelines, the Vulkan context
  // (device, surface, instance), then the window.
#ifdef WL_WITH_WINDOW
  std::unique_ptr<Window> window;
#endif
  std::unique_ptr<VulkanContext> context;
#ifdef WL_WITH_CUDA
  // CUDA path: `written` reaches n when CUDA finished writing frame n, `read` when Vulkan finished
  // reading it. Two timelines, because each side signals only its own, always increasing, values.
  SharedTimeline written;
  SharedTimeline read;
#endif
  std::unique_ptr<OverlayRenderer> overlay;
  std::optional<Swapchain> swapchain;
  std::vector<FrameSlot> slots;
};

// [SECTION] Set-up and teardown

Presenter::Impl::Impl(const PresenterInfo& in) : info(in) {
  WL_CHECK(info.frame_width > 0 && info.frame_height > 0, "frame size must be positive, got ",
           info.frame_width, "x", info.frame_height);
  WL_CHECK(info.output_width > 0 && info.output_height > 0, "output size must be positive, got ",
           info.output_width, "x", info.output_height);
  WL_CHECK(info.frames_in_flight >= 1 && info.frames_in_flight <= 4, "frames_in_flight must be 1-4, got ",
           info.frames_in_flight);

  VulkanContextInfo context_info;
  context_info.app_name = info.title;
  context_info.validation = info.validation;
#ifdef WL_WITH_CUDA
  if (info.cuda_frames) context_info.device_uuid = cuda_device_uuid(stats.frame_path_note);
#else
  stats.frame_path_note = "built without CUDA";
#endif
#ifdef WL_WITH_WINDOW
  if (!info.headless) {
    window = std::make_unique<Window>(WindowInfo{info.title, info.output_width, info.output_height, info.resizable});
    context_info.instance_extensions = window->vulkan_instance_extensions();
    context_info.create_surface = [w = window.get()](VkInstance instance) { return w->create_surface(instance); };
  }
#else
  WL_CHECK(info.headless, "this build has no window support (built with WL_WINDOW=OFF or without SDL2); "
           "set PresenterInfo::headless or rebuild with libsdl2-dev installed");
#endif
  context = std::make_unique<VulkanContext>(context_info);
  if (!info.cuda_frames) stats.frame_path_note = "PresenterInfo::cuda_frames is off";
  set_up_cuda_path();

  VkImageFormatProperties limits;
  WL_VK_CHECK(vkGetPhysicalDeviceImageFormatProperties(
      context->physical_device(), kFrameFormat, VK_IMAGE_TYPE_2D, VK_IMAGE_TILING_OPTIMAL,
      VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT, 0, &limits));
  WL_CHECK(static_cast<uint32_t>(info.frame_width) <= limits.maxExtent.width &&
               static_cast<uint32_t>(info.frame_height) <= limits.maxExtent.height,
           "frame ", info.frame_width, "x", info.frame_height, " exceeds the device's image limit ",
           limits.maxExtent.width, "x", limits.maxExtent.height);
  if (info.filter == Filter::Linear) {
    VkFormatProperties props;
    vkGetPhysicalDeviceFormatProperties(context->physical_device(), kFrameFormat, &props);
    WL_CHECK(props.optimalTilingFeatures & VK_FORMAT_FEATURE_SAMPLED_IMAGE_FILTER_LINEAR_BIT,
             context->device_name(), " cannot filter RGBA8 linearly; use Filter::Nearest");
  }

#ifdef WL_WITH_WINDOW
  if (window) swapchain.emplace(*context, window->drawable_size(), info.present_mode, VK_NULL_HANDLE);
#endif
  if (info.overlay) {
    OverlayRendererInfo renderer;
    renderer.context = context.get();
    renderer.format = windowed() ? swapchain->format() : kFrameFormat;
    renderer.final_layout = windowed() ? VK_IMAGE_LAYOUT_PRESENT_SRC_KHR : VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    renderer.frames_in_flight = static_cast<uint32_t>(info.frames_in_flight);
#ifdef WL_WITH_WINDOW
    if (window) {
      renderer.window = window->sdl_window();
      overlay = std::make_unique<OverlayRenderer>(info.overlay_info, renderer);
      window->set_event_listener([o = overlay.get()](const SDL_Event& event) { o->process_event(event); });
      swapchain->create_framebuffers(overlay->render_pass());
    }
#endif
    if (!overlay) overlay = std::make_unique<OverlayRenderer>(info.overlay_info, renderer);
  }
  for (int i = 0; i < info.frames_in_flight; ++i) slots.push_back(make_slot());
  stats.device_name = context->device_name();
  stats.frame_row_pitch = image_surface() ? 0 : int64_t{info.frame_width} * 4;
  WL_LOG_INFO(kLogTag, "frames reach Vulkan through ",
              !cuda_path()      ? "host staging"
              : image_surface() ? "CUDA interop into an image through a CUDA surface (no device copy)"
                                : "CUDA interop into a buffer (one device copy per frame)",
              stats.frame_path_note.empty() ? "" : " (", stats.frame_path_note,
              stats.frame_path_note.empty() ? "" : ")",
              image_surface() ? "" : str(", row pitch ", stats.frame_row_pitch, " bytes"));
}

// Both sides drain before anything shared is freed: Vulkan's batches wait for CUDA's signals and
// the CUDA stream waits for Vulkan's, so each wait below finishes.
Presenter::Impl::~Impl() {
  if (context) vkDeviceWaitIdle(context->device());
#ifdef WL_WITH_CUDA
  if (cuda_path()) cuda_stream_wait_quietly(info.cuda_stream);
#endif
}

void Presenter::Impl::set_up_cuda_path() {
#ifdef WL_WITH_CUDA
  if (!info.cuda_frames || !context->interop()) {
    if (stats.frame_path_note.empty()) stats.frame_path_note = context->interop_note();
    return;
  }
  written = SharedTimeline(*context);
  read = SharedTimeline(*context);
  stats.frame_path = FramePath::CudaInterop;
  stats.frame_path_note.clear();
  // The image surface (the default, exact on an H200) wherever the device can share such an image:
  // the blit reads it directly, so its format's optimal tiling must allow that (and linear
  // filtering, when asked for). Otherwise, or when turned off, the exported buffer + one copy.
  stats.cuda_frame_memory = CudaFrameMemory::BufferCopy;
  if (!info.cuda_image_surface) {
    stats.cuda_frame_memory_note = "PresenterInfo::cuda_image_surface is off";
    return;
  }
  const std::string why_not = shared_image_support(*context, frame_extent(), shared_image_features());
  if (why_not.empty()) {
    stats.cuda_frame_memory = CudaFrameMemory::ImageSurface;
    return;
  }
  stats.cuda_frame_memory_note = why_not;
  WL_LOG_WARN(kLogTag, "PresenterInfo::cuda_image_surface asked for an image surface, but CUDA frames go through a "
              "buffer and one device copy per frame: ", stats.cuda_frame_memory_note);
#endif
}

VkExtent2D Presenter::Impl::frame_extent() const {
  return {static_cast<uint32_t>(info.frame_width), static_cast<uint32_t>(info.frame_height)};
}

VkFormatFeatureFlags Presenter::Impl::shared_image_features() const {
  return VK_FORMAT_FEATURE_BLIT_SRC_BIT |
         (info.filter == Filter::Linear ? VK_FORMAT_FEATURE_SAMPLED_IMAGE_FILTER_LINEAR_BIT : 0);
}

FrameSlot Presenter::Impl::make_slot() const {
  VkDevice device = context->device();
  FrameSlot slot;
  VkCommandPoolCreateInfo pool_create{};
  pool_create.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
  pool_create.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
  pool_create.queueFamilyIndex = context->queue_family();
  VkCommandPool pool = VK_NULL_HANDLE;
  WL_VK_CHECK(vkCreateCommandPool(device, &pool_create, nullptr, &pool));
  slot.pool = UniqueCommandPool(device, pool);
  VkCommandBufferAllocateInfo allocate{};
  allocate.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
  allocate.commandPool = pool;
  allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  allocate.commandBufferCount = 1;
  WL_VK_CHECK(vkAllocateCommandBuffers(device, &allocate, &slot.cmd));

  // Created signalled, so the first begin_frame() does not wait for a frame that never ran.
  VkFenceCreateInfo fence_create{};
  fence_create.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
  fence_create.flags = VK_FENCE_CREATE_SIGNALED_BIT;
  VkFence fence = VK_NULL_HANDLE;
  WL_VK_CHECK(vkCreateFence(device, &fence_create, nullptr, &fence));
  slot.done = UniqueFence(device, fence);
  if (windowed()) {
    VkSemaphoreCreateInfo semaphore_create{};
    semaphore_create.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO;
    VkSemaphore semaphore = VK_NULL_HANDLE;
    WL_VK_CHECK(vkCreateSemaphore(device, &semaphore_create, nullptr, &semaphore));
    slot.image_acquired = UniqueSemaphore(device, semaphore);
  }

  constexpr VkMemoryPropertyFlags kHost = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  const VkExtent2D frame = frame_extent();
  const VkDeviceSize frame_bytes = VkDeviceSize{frame.width} * frame.height * 4;
#ifdef WL_WITH_CUDA
  if (image_surface()) {
    slot.shared_image = SharedImage(*context, frame, shared_image_features());
    // GENERAL for good, and owned by CUDA's side until the first frame's acquire.
    const VkImage image = slot.shared_image.vulkan().image.image.get();
    const uint32_t family = context->queue_family();
    context->submit_and_wait([&](VkCommandBuffer cmd) { record_external_image_init(cmd, image, family); });
  } else if (cuda_path()) {
    slot.shared = SharedBuffer(*context, frame_bytes, VK_BUFFER_USAGE_TRANSFER_SRC_BIT);
  }
#endif
  if (!cuda_path()) slot.staging = context->create_buffer(frame_bytes, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, kHost);
  if (!image_surface())
    slot.source = context->create_image(frame, kFrameFormat,
                                        VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
  if (!windowed()) {
    VkExtent2D out{static_cast<uint32_t>(info.output_width), static_cast<uint32_t>(info.output_height)};
    slot.output = context->create_image(out, kFrameFormat,
                                        VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT |
                                            VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT);
    // Cached memory makes the host's reads of the readback fast where the device offers it.
    slot.readback = context->create_buffer(VkDeviceSize{out.width} * out.height * 4,
                                           VK_BUFFER_USAGE_TRANSFER_DST_BIT, kHost,
                                           VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (overlay) {
      VkImageViewCreateInfo view_create{};
      view_create.sType = VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO;
      view_create.image = slot.output.image.get();
      view_create.viewType = VK_IMAGE_VIEW_TYPE_2D;
      view_create.format = kFrameFormat;
      view_create.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
      VkImageView view = VK_NULL_HANDLE;
      WL_VK_CHECK(vkCreateImageView(device, &view_create, nullptr, &view));
      slot.output_view = UniqueImageView(device, view);
      VkFramebufferCreateInfo framebuffer_create{};
      framebuffer_create.sType = VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO;
      framebuffer_create.renderPass = overlay->render_pass();
      framebuffer_create.attachmentCount = 1;
      framebuffer_create.pAttachments = slot.output_view.ptr();
      framebuffer_create.width = out.width;
      framebuffer_create.height = out.height;
      framebuffer_create.layers = 1;
      VkFramebuffer framebuffer = VK_NULL_HANDLE;
      WL_VK_CHECK(vkCreateFramebuffer(device, &framebuffer_create, nullptr, &framebuffer));
      slot.output_framebuffer = UniqueFramebuffer(device, framebuffer);
    }
  }
  return slot;
}

// [SECTION] Per frame

#ifdef WL_WITH_WINDOW
FrameStatus Presenter::Impl::present_windowed(FrameSlot& slot) {
  if (window->close_requested()) return FrameStatus::Closed;
  VkExtent2D size = window->drawable_size();
  if (size.width == 0 || size.height == 0) return FrameStatus::SwapchainStale;   // minimised
  VkExtent2D current_extent = swapchain->extent();
  if (size.width != current_extent.width || size.height != current_extent.height) {
    recreate_swapchain(size, slot);
    return FrameStatus::SwapchainStale;
  }

  VkDevice device = context->device();
  uint32_t index = 0;
  VkResult acquired = vkAcquireNextImageKHR(device, swapchain->get(), UINT64_MAX, slot.image_acquired.get(),
                                            VK_NULL_HANDLE, &index);
  if (acquired == VK_ERROR_OUT_OF_DATE_KHR) {
    recreate_swapchain(size, slot);
    return FrameStatus::SwapchainStale;
  }
  // SUBOPTIMAL still signals the semaphore: draw and present this image, then recreate.
  if (acquired != VK_SUBOPTIMAL_KHR) WL_VK_CHECK(acquired);

  record(slot, swapchain->image(index), swapchain->extent(), overlay ? swapchain->framebuffer(index) : VK_NULL_HANDLE);
  submit(slot, slot.image_acquired.get(), swapchain->render_finished(index));

  VkPresentInfoKHR present{};
  present.sType = VK_STRUCTURE_TYPE_PRESENT_INFO_KHR;
  present.waitSemaphoreCount = 1;
  VkSemaphore finished = swapchain->render_finished(index);
  present.pWaitSemaphores = &finished;
  present.swapchainCount = 1;
  VkSwapchainKHR handle = swapchain->get();
  present.pSwapchains = &handle;
  present.pImageIndices = &index;
  VkResult presented = vkQueuePresentKHR(context->queue(), &present);
  if (presented == VK_ERROR_OUT_OF_DATE_KHR || presented == VK_SUBOPTIMAL_KHR || acquired == VK_SUBOPTIMAL_KHR) {
    recreate_swapchain(window->drawable_size(), slot);
    return FrameStatus::SwapchainStale;
  }
  WL_VK_CHECK(presented);
  return FrameStatus::Presented;
}

// The old swapchain may still be read by frames in flight on other slots. It is retired into this
// slot's queue, which is flushed when this slot comes round again: by then begin_frame() has waited
// for every other slot, so every frame that used the old images has finished.
void Presenter::Impl::recreate_swapchain(VkExtent2D size, FrameSlot& slot) {
  ++stats.swapchain_recreations;
  if (size.width == 0 || size.height == 0) return;   // minimised: recreated when it comes back
  Swapchain fresh(*context, size, info.present_mode, swapchain->get());
  slot.retired.defer(std::move(*swapchain));
  *swapchain = std::move(fresh);
  if (overlay) swapchain->create_framebuffers(overlay->render_pass());
  WL_LOG_DEBUG(kLogTag, "swapchain recreated at ", size.width, "x", size.height);
}
#endif

FrameStatus Presenter::Impl::present_headless(FrameSlot& slot) {
  record(slot, slot.output.image.get(), slot.output.extent, slot.output_framebuffer.get());
  submit(slot, VK_NULL_HANDLE, VK_NULL_HANDLE);
  last_presented = static_cast<int>(current);
  return FrameStatus::Presented;
}

void Presenter::Impl::record(FrameSlot& slot, VkImage output, VkExtent2D extent, VkFramebuffer overlay_target) {
  WL_VK_CHECK(vkResetCommandPool(context->device(), slot.pool.get(), 0));
  VkCommandBufferBeginInfo begin{};
  begin.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  VkCommandBuffer cmd = slot.cmd;
  WL_VK_CHECK(vkBeginCommandBuffer(cmd, &begin));
  const GpuImage* source = &slot.source;   // in TRANSFER_SRC_OPTIMAL for the blit, whichever path
#ifdef WL_WITH_CUDA
  if (image_surface()) {
    source = &slot.shared_image.vulkan().image;
    record_external_image_acquire(cmd, source->image.get(), context->queue_family());
  } else if (cuda_path()) {
    record_upload(cmd, slot.shared.vulkan(), slot.source);
    ++stats.device_copies;
  }
#endif
  if (!cuda_path()) {
    record_upload(cmd, slot.staging, slot.source);
    ++stats.host_uploads;
  }
  record_letterbox_blit(cmd, *source, output, extent, info.filter, info.clear_color);
  // CUDA may write the image again once `read` signals: hand it back right after its last read.
  if (image_surface()) record_external_image_release(cmd, source->image.get(), context->queue_family());
  if (overlay) {
    auto now = std::chrono::steady_clock::now();
    float frame_seconds = std::chrono::duration<float>(now - last_present).count();
    last_present = now;
    // The overlay pass ends in the final layout (present, or transfer source for the readback).
    overlay->record(cmd, output, overlay_target, extent, frame_seconds);
    if (!windowed()) record_readback(cmd, output, extent, slot.readback);
  } else if (windowed()) {
    image_barrier(cmd, output, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_PRESENT_SRC_KHR,
                  VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                  VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, 0);
  } else {
    image_barrier(cmd, output, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
                  VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                  VK_ACCESS_TRANSFER_READ_BIT);
    record_readback(cmd, output, extent, slot.readback);
  }
  WL_VK_CHECK(vkEndCommandBuffer(cmd));
}

void Presenter::Impl::submit(FrameSlot& slot, VkSemaphore wait, VkSemaphore signal) {
  // The fence is reset only here, right before the submission that signals it again: an early
  // return (stale swapchain) leaves it signalled and the next begin_frame() does not hang.
  WL_VK_CHECK(vkResetFences(context->device(), 1, slot.done.ptr()));
  // The acquire semaphore guards the first write (the clear); CUDA's signal guards the first read
  // of the shared memory (the buffer copy, or the shared image's ownership acquire). All are
  // transfers. Binary semaphores ignore their values.
  std::array<VkSemaphore, 2> waits{};
  std::array<uint64_t, 2> wait_values{};
  std::array<VkSemaphore, 2> signals{};
  std::array<uint64_t, 2> signal_values{};
  const std::array<VkPipelineStageFlags, 2> wait_stages = {VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT};
  uint32_t wait_count = 0, signal_count = 0;
  if (wait) waits[wait_count++] = wait;
  if (signal) signals[signal_count++] = signal;
#ifdef WL_WITH_CUDA
  if (cuda_path()) {
    wait_values[wait_count] = frame_number;
    waits[wait_count++] = written.semaphore();
    signal_values[signal_count] = frame_number;
    signals[signal_count++] = read.semaphore();
  }
#endif
  VkTimelineSemaphoreSubmitInfo values{};
  values.sType = VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO;
  values.waitSemaphoreValueCount = wait_count;
  values.pWaitSemaphoreValues = wait_values.data();
  values.signalSemaphoreValueCount = signal_count;
  values.pSignalSemaphoreValues = signal_values.data();
  VkSubmitInfo submit{};
  submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
  submit.pNext = cuda_path() ? &values : nullptr;
  submit.waitSemaphoreCount = wait_count;
  submit.pWaitSemaphores = waits.data();
  submit.pWaitDstStageMask = wait_stages.data();
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &slot.cmd;
  submit.signalSemaphoreCount = signal_count;
  submit.pSignalSemaphores = signals.data();
  WL_VK_CHECK(vkQueueSubmit(context->queue(), 1, &submit, slot.done.get()));
  submitted = true;
}

// CUDA path, for a frame whose work was not submitted (stale swapchain, closed window): an empty
// batch still waits for CUDA's `written` signal and signals `read`, in queue order, so the value
// CUDA waits for when this slot comes round again is always reached and timeline values only grow.
void Presenter::Impl::release_unsubmitted_frame() {
#ifdef WL_WITH_CUDA
  if (!cuda_path() || submitted) return;
  VkTimelineSemaphoreSubmitInfo values{};
  values.sType = VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO;
  values.waitSemaphoreValueCount = 1;
  values.pWaitSemaphoreValues = &frame_number;
  values.signalSemaphoreValueCount = 1;
  values.pSignalSemaphoreValues = &frame_number;
  VkSemaphore wait = written.semaphore();
  VkSemaphore signal = read.semaphore();
  VkPipelineStageFlags stage = VK_PIPELINE_STAGE_ALL_COMMANDS_BIT;
  VkSubmitInfo submit{};
  submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
  submit.pNext = &values;
  submit.waitSemaphoreCount = 1;
  submit.pWaitSemaphores = &wait;
  submit.pWaitDstStageMask = &stage;
  submit.signalSemaphoreCount = 1;
  submit.pSignalSemaphores = &signal;
  WL_VK_CHECK(vkQueueSubmit(context->queue(), 1, &submit, VK_NULL_HANDLE));
#endif
}

// [SECTION] Public verbs

Presenter::Presenter(const PresenterInfo& info) : impl_(std::make_unique<Impl>(info)) {}
Presenter::~Presenter() = default;

InputSnapshot Presenter::poll_input() {
#ifdef WL_WITH_WINDOW
  if (impl_->window) return impl_->window->poll();
#endif
  InputSnapshot snapshot;
  snapshot.time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - impl_->start).count();
  return snapshot;
}

FrameTarget Presenter::begin_frame() {
  Impl& m = *impl_;
  WL_CHECK(!m.in_frame, "begin_frame() called twice; call present() after writing each frame");
  FrameSlot& slot = m.slots[m.current];
  WL_VK_CHECK(vkWaitForFences(m.context->device(), 1, slot.done.ptr(), VK_TRUE, UINT64_MAX));
  slot.retired.flush();
  ++m.frame_number;
  m.submitted = false;
  FrameTarget target;
  target.width = m.info.frame_width;
  target.height = m.info.frame_height;
  target.row_pitch = int64_t{m.info.frame_width} * 4;
#ifdef WL_WITH_CUDA
  if (m.cuda_path()) {
    // This slot last held frame n - slots; the stream must not overwrite it before Vulkan read it.
    // (The fence above already says so on the host; the wait keeps the ordering on the GPU too.)
    const uint64_t slots = m.slots.size();
    if (m.frame_number > slots) m.read.cuda_wait(m.frame_number - slots, m.info.cuda_stream);
    if (m.image_surface()) {
      target.cuda_surface = slot.shared_image.cuda_surface();   // no pointer and no rows: the surface
      target.row_pitch = 0;
    } else {
      target.pixels = slot.shared.device_pointer();
    }
    target.on_device = true;
  }
#endif
  if (!m.cuda_path()) {
    target.pixels = static_cast<uint8_t*>(slot.staging.mapped);
    target.on_device = false;
  }
  m.in_frame = true;
  return target;
}

FrameStatus Presenter::present() {
  Impl& m = *impl_;
  WL_CHECK(m.in_frame, "present() without begin_frame(); begin_frame() returns the target to write into");
  m.in_frame = false;
  FrameSlot& slot = m.slots[m.current];
#ifdef WL_WITH_CUDA
  // After the decoder's kernels on the same stream: frame n is written once this value is reached.
  if (m.cuda_path()) m.written.cuda_signal(m.frame_number, m.info.cuda_stream);
#endif
#ifdef WL_WITH_WINDOW
  FrameStatus status = m.windowed() ? m.present_windowed(slot) : m.present_headless(slot);
#else
  FrameStatus status = m.present_headless(slot);
#endif
  m.release_unsubmitted_frame();
  // Advance even when nothing was submitted, so a retired swapchain waits for every other slot.
  m.current = (m.current + 1) % m.slots.size();
  if (status == FrameStatus::Presented) ++m.stats.frames_presented;
  if (status == FrameStatus::SwapchainStale) ++m.stats.frames_stale;
  return status;
}

bool Presenter::read_frame(std::vector<uint8_t>& rgba, int& width, int& height) {
  Impl& m = *impl_;
  WL_CHECK(!m.windowed(), "read_frame() reads the headless output; make the presenter with headless = true");
  if (m.last_presented < 0) return false;
  FrameSlot& slot = m.slots[m.last_presented];
  WL_VK_CHECK(vkWaitForFences(m.context->device(), 1, slot.done.ptr(), VK_TRUE, UINT64_MAX));
  width = static_cast<int>(slot.output.extent.width);
  height = static_cast<int>(slot.output.extent.height);
  rgba.resize(static_cast<size_t>(slot.readback.size));
  std::memcpy(rgba.data(), slot.readback.mapped, rgba.size());
  return true;
}

PresenterStats Presenter::stats() const {
  PresenterStats out = impl_->stats;
  out.validation_messages = impl_->context->validation_messages();
  return out;
}

Overlay* Presenter::overlay() { return impl_->overlay.get(); }

void Presenter::set_window_size(int width, int height) {
  WL_CHECK(impl_->windowed(), "set_window_size() needs a window; this presenter is headless");
#ifdef WL_WITH_WINDOW
  impl_->window->set_size(width, height);
#endif
}

}  // namespace wl
