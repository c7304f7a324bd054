// Overlay: the ImGui windows (panel and action HUD). Backend-free: overlay_renderer.cpp owns the
// ImGui context, feeds it events and records its draw data. See overlay.h.
#include "render/overlay.h"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <utility>

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

}  // namespace

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
  if (ImGui::Button(settings_.recording ? "stop recording" : "start recording"))
    settings_.recording = !settings_.recording;
  if (settings_.recording) {
    ImGui::SameLine();
    ImGui::Text("%.1f s, %lld dropped", frame_.record_seconds, static_cast<long long>(frame_.dropped_frames));
  }
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
  ImGui::TextDisabled("F1 hides this panel, F2 captures the mouse");
  ImGui::End();

  // [SECTION] Action HUD: what the controls are doing right now
  // Bottom right, clear of the panel on the left.
  const float width = ImGui::GetIO().DisplaySize.x;
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
