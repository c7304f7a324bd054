// ImGui 1.86 context, backends, render pass and per-frame recording for the overlay.
// See overlay_renderer.h; the 1.86 specifics (render pass required, hand-recorded font upload,
// argument-less ImGui_ImplSDL2_NewFrame) are in ../shared/reference/toolchain.md.
#include "render/overlay_renderer.h"

#include <backends/imgui_impl_vulkan.h>
#include <imgui.h>

#include <algorithm>
#include <cmath>

#include "render/frame_blit.h"
#include "render/vk_check.h"

#ifdef WL_WITH_WINDOW
#include <SDL2/SDL.h>
#include <backends/imgui_impl_sdl.h>
#endif

namespace wl {
namespace {

void check_imgui_vk(VkResult result) { WL_VK_CHECK(result); }

UniqueRenderPass make_render_pass(VkDevice device, VkFormat format, VkImageLayout final_layout) {
  VkAttachmentDescription attachment{};
  attachment.format = format;
  attachment.samples = VK_SAMPLE_COUNT_1_BIT;
  attachment.loadOp = VK_ATTACHMENT_LOAD_OP_LOAD;   // draw over the letterboxed frame
  attachment.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
  attachment.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
  attachment.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
  attachment.initialLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL;
  attachment.finalLayout = final_layout;
  VkAttachmentReference color{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
  VkSubpassDescription subpass{};
  subpass.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
  subpass.colorAttachmentCount = 1;
  subpass.pColorAttachments = &color;
  // The final layout transition and what follows (present, or the readback copy) wait for the draw.
  VkSubpassDependency after{};
  after.srcSubpass = 0;
  after.dstSubpass = VK_SUBPASS_EXTERNAL;
  after.srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  after.srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
  after.dstStageMask = VK_PIPELINE_STAGE_TRANSFER_BIT;
  after.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
  VkRenderPassCreateInfo create{};
  create.sType = VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO;
  create.attachmentCount = 1;
  create.pAttachments = &attachment;
  create.subpassCount = 1;
  create.pSubpasses = &subpass;
  create.dependencyCount = 1;
  create.pDependencies = &after;
  VkRenderPass pass = VK_NULL_HANDLE;
  WL_VK_CHECK(vkCreateRenderPass(device, &create, nullptr, &pass));
  return UniqueRenderPass(device, pass);
}

// The extent of everything ImGui will draw this frame, from its vertices.
OverlayBounds draw_bounds(const ImDrawData* data) {
  OverlayBounds b{1e30f, 1e30f, -1e30f, -1e30f};
  for (int l = 0; l < data->CmdListsCount; ++l) {
    const ImDrawList* list = data->CmdLists[l];
    for (const ImDrawVert& v : list->VtxBuffer) {
      b.x0 = std::min(b.x0, v.pos.x);
      b.y0 = std::min(b.y0, v.pos.y);
      b.x1 = std::max(b.x1, v.pos.x);
      b.y1 = std::max(b.y1, v.pos.y);
    }
  }
  if (b.empty()) return {};
  return {std::floor(b.x0), std::floor(b.y0), std::ceil(b.x1), std::ceil(b.y1)};
}

}  // namespace

void OverlayRenderer::ContextDeleter::operator()(ImGuiContext* context) const { ImGui::DestroyContext(context); }

OverlayRenderer::Backends::~Backends() {
  if (vulkan) ImGui_ImplVulkan_Shutdown();
#ifdef WL_WITH_WINDOW
  if (sdl) ImGui_ImplSDL2_Shutdown();
#endif
}

OverlayRenderer::OverlayRenderer(const OverlayInfo& info, const OverlayRendererInfo& renderer)
    : Overlay(info), renderer_(renderer), final_layout_(renderer.final_layout) {
  WL_CHECK(renderer.context, "OverlayRendererInfo::context is required");
  const VulkanContext& vk = *renderer.context;
  imgui_.reset(ImGui::CreateContext());
  ImGui::SetCurrentContext(imgui_.get());
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;   // the panel is placed by code; never write imgui.ini into the cwd
  ImGui::StyleColorsDark();

  // One combined image sampler for the font atlas, with room for a few more textures.
  VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 8};
  VkDescriptorPoolCreateInfo pool_create{};
  pool_create.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
  pool_create.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
  pool_create.maxSets = 8;
  pool_create.poolSizeCount = 1;
  pool_create.pPoolSizes = &size;
  VkDescriptorPool pool = VK_NULL_HANDLE;
  WL_VK_CHECK(vkCreateDescriptorPool(vk.device(), &pool_create, nullptr, &pool));
  pool_ = UniqueDescriptorPool(vk.device(), pool);
  render_pass_ = make_render_pass(vk.device(), renderer.format, renderer.final_layout);

#ifdef WL_WITH_WINDOW
  if (renderer.window) {
    WL_CHECK(ImGui_ImplSDL2_InitForVulkan(renderer.window), "ImGui's SDL2 backend did not start");
    backends_.sdl = true;
  }
#endif
  ImGui_ImplVulkan_InitInfo init{};
  init.Instance = vk.instance();
  init.PhysicalDevice = vk.physical_device();
  init.Device = vk.device();
  init.QueueFamily = vk.queue_family();
  init.Queue = vk.queue();
  init.DescriptorPool = pool;
  init.Subpass = 0;
  // Vertex buffers rotate over ImageCount frames: at least one per frame in flight.
  init.MinImageCount = 2;
  init.ImageCount = std::max<uint32_t>(2, renderer.frames_in_flight);
  init.MSAASamples = VK_SAMPLE_COUNT_1_BIT;
  init.CheckVkResultFn = check_imgui_vk;
  WL_CHECK(ImGui_ImplVulkan_Init(&init, render_pass_.get()), "ImGui's Vulkan backend did not start");
  backends_.vulkan = true;
  vk.submit_and_wait([](VkCommandBuffer cmd) { ImGui_ImplVulkan_CreateFontsTexture(cmd); });
  ImGui_ImplVulkan_DestroyFontUploadObjects();
}

OverlayRenderer::~OverlayRenderer() { ImGui::SetCurrentContext(imgui_.get()); }

#ifdef WL_WITH_WINDOW
void OverlayRenderer::process_event(const SDL_Event& event) {
  ImGui::SetCurrentContext(imgui_.get());
  if (event.type == SDL_KEYDOWN && !event.key.repeat) {
    if (event.key.keysym.scancode == SDL_SCANCODE_F1) set_visible(!visible());
    if (event.key.keysym.scancode == SDL_SCANCODE_F2) mouse_capture_ = !mouse_capture_;
  }
  if (visible()) ImGui_ImplSDL2_ProcessEvent(&event);
  apply_mouse_capture();
}

void OverlayRenderer::apply_mouse_capture() const {
  bool capture = mouse_capture_ && !visible();
  if (static_cast<bool>(SDL_GetRelativeMouseMode()) != capture)
    SDL_SetRelativeMouseMode(capture ? SDL_TRUE : SDL_FALSE);
}
#else
void OverlayRenderer::apply_mouse_capture() const {}
#endif

void OverlayRenderer::record(VkCommandBuffer cmd, VkImage image, VkFramebuffer framebuffer, VkExtent2D extent,
                             float frame_seconds) {
  ImGui::SetCurrentContext(imgui_.get());
  if (!visible()) {
    build(frame_seconds, static_cast<float>(extent.height));   // keeps the FPS history going
    set_bounds({});
    VkPipelineStageFlags dst_stage = final_layout_ == VK_IMAGE_LAYOUT_PRESENT_SRC_KHR
                                         ? VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT
                                         : VK_PIPELINE_STAGE_TRANSFER_BIT;
    VkAccessFlags dst_access = final_layout_ == VK_IMAGE_LAYOUT_PRESENT_SRC_KHR ? 0 : VK_ACCESS_TRANSFER_READ_BIT;
    image_barrier(cmd, image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, final_layout_, VK_PIPELINE_STAGE_TRANSFER_BIT,
                  VK_ACCESS_TRANSFER_WRITE_BIT, dst_stage, dst_access);
    return;
  }

  ImGuiIO& io = ImGui::GetIO();
  ImGui_ImplVulkan_NewFrame();
#ifdef WL_WITH_WINDOW
  if (renderer_.window) ImGui_ImplSDL2_NewFrame();
#endif
  if (!renderer_.window) {
    io.DisplaySize = ImVec2(static_cast<float>(extent.width), static_cast<float>(extent.height));
    io.DeltaTime = frame_seconds > 0.f ? frame_seconds : 1.f / 60.f;
  }
  ImGui::NewFrame();
  build(frame_seconds, io.DisplaySize.y);
  ImGui::Render();
  ImDrawData* data = ImGui::GetDrawData();
  set_bounds(draw_bounds(data));

  image_barrier(cmd, image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL,
                VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT,
                VK_ACCESS_COLOR_ATTACHMENT_READ_BIT | VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT);
  VkRenderPassBeginInfo begin{};
  begin.sType = VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO;
  begin.renderPass = render_pass_.get();
  begin.framebuffer = framebuffer;
  begin.renderArea.extent = extent;
  vkCmdBeginRenderPass(cmd, &begin, VK_SUBPASS_CONTENTS_INLINE);
  ImGui_ImplVulkan_RenderDrawData(data, cmd);
  vkCmdEndRenderPass(cmd);
}

}  // namespace wl
