// OverlayRenderer: the Overlay with what draws it, the ImGui 1.86 context, its SDL2 and Vulkan
// backends, a descriptor pool and a render pass that loads the composed frame and draws on top.
//
// Made by the Presenter when PresenterInfo::overlay is set. Per frame the presenter calls record()
// after the letterbox blit: output image in TRANSFER_DST_OPTIMAL -> drawn -> `final_layout`
// (PRESENT_SRC_KHR in a window, TRANSFER_SRC_OPTIMAL headless, for the readback). Headless there is
// no input; the display size is the output's. Windowed, the presenter routes SDL events to
// process_event() (F1 toggles the panel, F2 mouse capture).
#pragma once

#include <vulkan/vulkan.h>

#include <memory>

#include "render/overlay.h"
#include "render/vk_context.h"

struct ImGuiContext;
struct SDL_Window;
union SDL_Event;

namespace wl {

struct OverlayRendererInfo {
  const VulkanContext* context = nullptr;   // outlives the renderer
  VkFormat format = VK_FORMAT_UNDEFINED;    // format of the images drawn on
  VkImageLayout final_layout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;   // layout after the pass
  uint32_t frames_in_flight = 2;            // the backend keeps this many vertex buffers
  SDL_Window* window = nullptr;             // windowed: input and display size; nullptr headless
};

class OverlayRenderer : public Overlay {
 public:
  OverlayRenderer(const OverlayInfo& info, const OverlayRendererInfo& renderer);   // throws wl::Error
  ~OverlayRenderer() override;

  VkRenderPass render_pass() const { return render_pass_.get(); }
#ifdef WL_WITH_WINDOW
  void process_event(const SDL_Event& event);
#endif
  // Draws the overlay into `framebuffer` (a view of `image`), or, when hidden, only moves `image`
  // to the final layout. `frame_seconds` is the time since the previous frame, for the FPS plot.
  void record(VkCommandBuffer cmd, VkImage image, VkFramebuffer framebuffer, VkExtent2D extent,
              float frame_seconds);

 private:
  struct ContextDeleter {
    void operator()(ImGuiContext* context) const;
  };
  // Shuts the backends down (Vulkan first, then SDL) before the pool and pass they use go away.
  struct Backends {
    bool vulkan = false;
    bool sdl = false;
    ~Backends();
  };
  void apply_mouse_capture() const;

  OverlayRendererInfo renderer_;
  VkImageLayout final_layout_;
  bool mouse_capture_ = false;   // F2; only in effect while the panel is hidden
  // Declared in creation order; destroyed in reverse: backends, render pass, pool, ImGui context.
  std::unique_ptr<ImGuiContext, ContextDeleter> imgui_;
  UniqueDescriptorPool pool_;
  UniqueRenderPass render_pass_;
  Backends backends_;
};

}  // namespace wl
