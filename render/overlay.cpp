// Overlay: the ImGui windows (panel and action HUD). Backend-free: overlay_renderer.cpp owns the
// ImGui context, feeds it events and records its draw data. See overlay.h.
#include "render/overlay.h"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "render/frame_blit.h"

namespace wl {
namespace {

constexpr float kMargin = 10.f;
constexpr float kPanelWidth = 340.f;
constexpr int kSlots = 4;

void push_sample(std::deque<float>& history, float value, int limit) {
  history.push_back(value);
  while (static_cast<int>(history.size()) > limit) history.pop_front();
}

void plot(const char* label, const std::deque<float>& history, const char* overlay_text) {
  std::vector<float> values(history.begin(), history.end());
  float top = values.empty() ? 1.f : *std::max_element(values.begin(), values.end()) * 1.2f;
  ImGui::PlotLines(label, values.data(), static_cast<int>(values.size()), 0, overlay_text, 0.f,
                   std::max(top, 1e-3f), ImVec2(0.f, 40.f));
}

// A frame-pixel rectangle in output pixels, through the presenter's letterbox.
ImVec4 to_output(const ViewRect& v, const Rect& frame_box, int frame_width, int frame_height) {
  float sx = static_cast<float>(frame_box.width) / static_cast<float>(frame_width);
  float sy = static_cast<float>(frame_box.height) / static_cast<float>(frame_height);
  return ImVec4(frame_box.x + v.x * sx, frame_box.y + v.y * sy, frame_box.x + (v.x + v.width) * sx,
                frame_box.y + (v.y + v.height) * sy);
}

}  // namespace

// [SECTION] view layout

std::vector<ViewRect> view_grid(int k, int width, int height) {
  if (k <= 0 || width <= 0 || height <= 0) return {};
  const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(k))));
  const int rows = (k + columns - 1) / columns;
  const int n = std::max(columns, rows);
  const int cw = std::max(width / n, 1), ch = std::max(height / n, 1);
  const int x0 = (width - columns * cw) / 2, y0 = (height - rows * ch) / 2;
  std::vector<ViewRect> views;
  for (int i = 0; i < k; ++i) views.push_back({x0 + (i % columns) * cw, y0 + (i / columns) * ch, cw, ch});
  return views;
}

std::array<ViewRect, 2> side_by_side(int width, int height) {
  const int cw = std::max(width / 2, 1), ch = std::max(height / 2, 1);
  const int x0 = (width - 2 * cw) / 2, y0 = (height - ch) / 2;
  return {ViewRect{x0, y0, cw, ch}, ViewRect{x0 + cw, y0, cw, ch}};
}

int view_at(const std::vector<ViewRect>& views, int frame_width, int frame_height, int output_width, int output_height,
            float x, float y) {
  Rect box = letterbox(frame_width, frame_height, output_width, output_height);
  if (box.width <= 0 || box.height <= 0) return -1;
  // Output pixel -> frame pixel, the inverse of the letterbox blit's scaling.
  int fx = static_cast<int>(std::floor((x - box.x) * frame_width / box.width));
  int fy = static_cast<int>(std::floor((y - box.y) * frame_height / box.height));
  for (size_t i = 0; i < views.size(); ++i)
    if (views[i].contains(fx, fy)) return static_cast<int>(i);
  return -1;
}

Overlay::Overlay(const OverlayInfo& info) : info_(info), visible_(info.visible) {
  if (info_.state_policies.empty()) info_.state_policies = {"default"};
  info_.history = std::max(info_.history, 2);
}

void Overlay::update(const OverlayFrame& frame) {
  // Stage names may change (a stage added or renamed): restart the plots rather than mislabel them.
  bool same_stages = frame.stages.size() == frame_.stages.size() &&
                     std::equal(frame.stages.begin(), frame.stages.end(), frame_.stages.begin(),
                                [](const StageTime& a, const StageTime& b) { return a.name == b.name; });
  if (!same_stages) stage_history_.assign(frame.stages.size(), {});
  for (size_t i = 0; i < frame.stages.size(); ++i) push_sample(stage_history_[i], frame.stages[i].ms, info_.history);
  frame_ = frame;
}

OverlayCommands Overlay::take_commands() { return std::exchange(commands_, OverlayCommands{}); }

void Overlay::build(float frame_seconds, float height) {
  if (frame_seconds > 0.f) push_sample(fps_history_, 1.f / frame_seconds, info_.history);
  if (!visible_) return;

  // [SECTION] Panel: performance, info, settings, commands
  ImGui::SetNextWindowPos(ImVec2(kMargin, kMargin), ImGuiCond_Always);
  // As tall as its contents, up to the output's height; it scrolls beyond that.
  ImGui::SetNextWindowSizeConstraints(ImVec2(kPanelWidth, 0.f),
                                      ImVec2(kPanelWidth, std::max(height - 2.f * kMargin, 50.f)));
  ImGui::SetNextWindowBgAlpha(0.85f);
  ImGui::Begin("worldloop", nullptr, ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_AlwaysAutoResize |
                                         ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoCollapse);
  float fps = fps_history_.empty() ? 0.f : fps_history_.back();
  std::string fps_text = std::to_string(static_cast<int>(fps + 0.5f)) + " fps";
  plot("frames", fps_history_, fps_text.c_str());
  for (size_t i = 0; i < frame_.stages.size() && i < stage_history_.size(); ++i) {
    char text[64];
    std::snprintf(text, sizeof text, "%.2f ms", frame_.stages[i].ms);
    plot(frame_.stages[i].name.c_str(), stage_history_[i], text);
  }
  ImGui::Text("latency %.1f ms   state %.1f MiB", frame_.latency_ms,
              static_cast<double>(frame_.state_bytes) / (1024.0 * 1024.0));
  if (frame_.dropped_frames > 0) ImGui::Text("presents dropped: %lld", static_cast<long long>(frame_.dropped_frames));
  if (!frame_.model_info.empty()) ImGui::TextUnformatted(frame_.model_info.c_str());
  if (!frame_.world_info.empty()) ImGui::TextUnformatted(frame_.world_info.c_str());

  ImGui::Separator();
  ImGui::SliderInt("denoise steps", &settings_.denoise_steps, 1, 50);
  ImGui::InputInt("seed", &settings_.seed);
  ImGui::SliderInt("block size", &settings_.block_size, 1, 16);
  std::vector<const char*> policies;
  for (const std::string& p : info_.state_policies) policies.push_back(p.c_str());
  settings_.state_policy = std::clamp(settings_.state_policy, 0, static_cast<int>(policies.size()) - 1);
  ImGui::Combo("state policy", &settings_.state_policy, policies.data(), static_cast<int>(policies.size()));
  ImGui::InputText("prompt", &settings_.prompt);

  ImGui::Separator();
  if (ImGui::Button(settings_.recording ? "stop recording (F8)" : "start recording (F8)"))
    settings_.recording = !settings_.recording;
  if (record_.active) {
    // Elapsed time as m:ss.s, and the drops in red: a dropped frame is a gap in the video.
    const int minutes = static_cast<int>(record_.seconds / 60.0);
    ImGui::SameLine();
    ImGui::TextColored(ImVec4(1.f, 0.3f, 0.3f, 1.f), "REC");
    ImGui::SameLine();
    ImGui::Text("%d:%04.1f", minutes, record_.seconds - 60.0 * minutes);
    ImGui::SameLine();
    if (record_.dropped > 0)
      ImGui::TextColored(ImVec4(1.f, 0.3f, 0.3f, 1.f), "%lld dropped", static_cast<long long>(record_.dropped));
    else
      ImGui::TextUnformatted("0 dropped");
    ImGui::Text("%lld frames to %s", static_cast<long long>(record_.frames), record_.target.c_str());
  }
  if (!record_.note.empty()) ImGui::TextWrapped("%s", record_.note.c_str());
  for (int slot = 0; slot < kSlots; ++slot) {
    ImGui::PushID(slot);
    if (ImGui::Button("save")) commands_.save_slot = slot;
    ImGui::SameLine();
    if (ImGui::Button("load")) commands_.load_slot = slot;
    ImGui::SameLine();
    ImGui::Text("slot %d", slot);
    ImGui::PopID();
  }
  if (ImGui::Button("reset world")) commands_.reset = true;
  ImGui::SameLine();
  if (ImGui::Button("new seed")) commands_.reset_new_seed = true;
  ImGui::SameLine();
  if (ImGui::Button("from simulator")) commands_.reset_from_simulator = true;
  ImGui::Checkbox("paused", &settings_.paused);
  ImGui::SameLine();
  if (ImGui::Button("step one block")) commands_.step = true;

  // [SECTION] Branching and the fidelity view
  ImGui::Separator();
  settings_.branches = std::clamp(settings_.branches, 2, kMaxBranches);
  if (frame_.branches == 0) {
    ImGui::SliderInt("branches", &settings_.branches, 2, kMaxBranches);
    if (ImGui::Button("branch into futures (F6)")) commands_.fork = true;
  } else {
    ImGui::Text("%d futures: click one or press its number", frame_.branches);
    for (int i = 0; i < frame_.branches; ++i) {
      ImGui::PushID(100 + i);
      if (i % 5) ImGui::SameLine();
      if (ImGui::Button(std::to_string(i + 1).c_str())) commands_.continue_branch = i;
      ImGui::PopID();
    }
    ImGui::TextUnformatted("your input steers:");
    for (int i = 0; i < frame_.branches; ++i) {
      ImGui::SameLine();
      ImGui::PushID(200 + i);
      ImGui::RadioButton(std::to_string(i + 1).c_str(), &settings_.steered_branch, i);
      ImGui::PopID();
    }
  }
  ImGui::Checkbox("fidelity view (F7)", &settings_.fidelity_view);
  if (frame_.side_by_side) {
    ImGui::SameLine();
    ImGui::Text("PSNR %.2f dB", frame_.psnr_db);
  }
  ImGui::TextDisabled("F1 hides this panel, F2 captures the mouse");
  ImGui::End();

  // [SECTION] Views: numbers on the branch grid (a click continues that one), fidelity labels
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  const int out_w = static_cast<int>(display.x), out_h = static_cast<int>(display.y);
  if (frame_.frame_width > 0 && frame_.frame_height > 0 && (frame_.branches > 0 || frame_.side_by_side)) {
    Rect box = letterbox(frame_.frame_width, frame_.frame_height, out_w, out_h);
    ImDrawList* draw = ImGui::GetForegroundDrawList();
    std::vector<ViewRect> views = frame_.branches > 0 ? view_grid(frame_.branches, frame_.frame_width, frame_.frame_height)
                                                      : std::vector<ViewRect>();
    for (size_t i = 0; i < views.size(); ++i) {
      ImVec4 r = to_output(views[i], box, frame_.frame_width, frame_.frame_height);
      bool steered = static_cast<int>(i) == settings_.steered_branch;
      draw->AddRect(ImVec2(r.x, r.y), ImVec2(r.z - 1, r.w - 1), steered ? IM_COL32(255, 220, 0, 255) : IM_COL32(255, 255, 255, 160),
                    0.f, 0, steered ? 3.f : 1.f);
      draw->AddText(ImVec2(r.x + 4, r.y + 2), IM_COL32(255, 255, 255, 255), std::to_string(i + 1).c_str());
    }
    if (frame_.side_by_side) {
      std::array<ViewRect, 2> halves = side_by_side(frame_.frame_width, frame_.frame_height);
      ImVec4 l = to_output(halves[0], box, frame_.frame_width, frame_.frame_height);
      ImVec4 r = to_output(halves[1], box, frame_.frame_width, frame_.frame_height);
      draw->AddText(ImVec2(l.x + 4, l.y + 2), IM_COL32(255, 255, 255, 255), "model");
      draw->AddText(ImVec2(r.x + 4, r.y + 2), IM_COL32(255, 255, 255, 255), "simulator");
      char text[48];
      std::snprintf(text, sizeof text, "PSNR %.2f dB", frame_.psnr_db);
      draw->AddText(ImVec2(l.x + 4, l.w + 4), IM_COL32(255, 255, 255, 255), text);
    }
    // A click on the frame (not on a panel) continues from the branch under it.
    if (!views.empty() && ImGui::IsMouseClicked(ImGuiMouseButton_Left) && !ImGui::GetIO().WantCaptureMouse) {
      ImVec2 m = ImGui::GetIO().MousePos;
      int cell = view_at(views, frame_.frame_width, frame_.frame_height, out_w, out_h, m.x, m.y);
      if (cell >= 0) commands_.continue_branch = cell;
    }
  }

  // [SECTION] Action HUD: what the controls are doing right now
  // Bottom right, clear of the panel on the left.
  const float width = display.x;
  ImGui::SetNextWindowPos(ImVec2(width - kMargin, height - kMargin), ImGuiCond_Always, ImVec2(1.f, 1.f));
  ImGui::SetNextWindowBgAlpha(0.6f);
  ImGui::Begin("actions", nullptr, ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_AlwaysAutoResize |
                                       ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoFocusOnAppearing);
  std::string keys;
  const InputSnapshot& in = frame_.input;
  for (int k = 0; k < InputSnapshot::kKeyCount; ++k)
    if (in.keys.test(k)) {
      if (!keys.empty()) keys += ' ';
      keys += std::to_string(k);
    }
  ImGui::Text("keys [%s]", keys.empty() ? "-" : keys.c_str());
  ImGui::Text("mouse %+.0f %+.0f  buttons %u  wheel %+.1f", in.mouse_dx, in.mouse_dy, in.mouse_buttons, in.wheel);
  ImGui::Text("pad L %+.2f %+.2f  R %+.2f %+.2f  T %.2f %.2f", in.gamepad_axes[0], in.gamepad_axes[1],
              in.gamepad_axes[2], in.gamepad_axes[3], in.gamepad_axes[4], in.gamepad_axes[5]);
  ImGui::End();
}

}  // namespace wl
