// The VPT (Video PreTraining, Minecraft) action space, exactly as openai/Video-Pre-Training defines
// it: 20 binary buttons in VPT's order plus a camera (pitch, yaw) in degrees, mu-law quantised to 11
// bins per axis (maxval 10, binsize 2, mu 10; bin 5 is "no camera motion"). The voxel world's action
// vector is [A = 22]: the 20 buttons, then the pitch bin and the yaw bin. Callers: envs/bindings.cpp
// (input -> action), envs/action_log.cpp (jsonl logs), envs/voxel_world.cpp (action -> physics).
#pragma once

#include <array>
#include <span>
#include <string_view>
#include <vector>

#include "envs/action_spec.h"

namespace wl {

// [SECTION] Buttons, in VPT's Buttons.ALL order (the index is the action vector position).
inline constexpr int kVptButtonCount = 20;
inline constexpr std::array<std::string_view, kVptButtonCount> kVptButtonNames = {
    "attack", "back", "forward", "jump", "left", "right", "sneak", "sprint", "use", "drop", "inventory",
    "hotbar.1", "hotbar.2", "hotbar.3", "hotbar.4", "hotbar.5", "hotbar.6", "hotbar.7", "hotbar.8", "hotbar.9"};
enum VptButton : int {
  kAttack = 0, kBack, kForward, kJump, kLeft, kRight, kSneak, kSprint, kUse, kDrop, kInventory, kHotbar1,
};
// Index of a VPT button name ("hotbar.3" -> 13), or -1.
int vpt_button_index(std::string_view name);

// [SECTION] Camera quantisation (VPT's CameraQuantizer with the mu_law scheme).
inline constexpr double kVptDegreesPerCount = 360.0 / 2400.0;  // CAMERA_SCALER: mouse counts -> degrees
inline constexpr double kVptCameraMaxDeg = 10.0;               // camera_maxval: clip to +-10 degrees
inline constexpr double kVptCameraBinSize = 2.0;               // camera_binsize, in mu-law space
inline constexpr double kVptCameraMu = 10.0;                   // camera_mu
inline constexpr int kVptCameraBins = 11;                      // 2 * maxval / binsize + 1
inline constexpr int kVptCameraNullBin = 5;                    // maxval // binsize: zero motion

// Degrees -> bin in [0, 10]: clip, mu-law encode, round half to even (numpy's np.round).
// A NaN input maps to the null bin.
int vpt_camera_bin(double degrees);
// Bin -> degrees at the bin centre (VPT's undiscretize): 0, +-0.615, +-1.610, +-3.215, +-5.810, +-10.
double vpt_camera_degrees(int bin);
// The 10 degree values where the bin changes (between bin i and i+1), ascending: +-0.271, +-1.053, ...
std::array<double, kVptCameraBins - 1> vpt_camera_bin_edges();

// [SECTION] One VPT action and the voxel world's action vector.
struct VptAction {
  std::array<bool, kVptButtonCount> buttons{};  // pressed, in kVptButtonNames order
  double camera_pitch_deg = 0.0;                // + looks down (Minecraft's pitch), from mouse dy
  double camera_yaw_deg = 0.0;                  // + turns right, from mouse dx
  bool operator==(const VptAction&) const = default;
};

// Forward+back together mean neither, and so do left+right (VPT's factored_buttons_to_groups).
void cancel_opposites(VptAction& action);

inline constexpr int kVoxelActionDims = kVptButtonCount + 2;  // A: buttons, pitch bin, yaw bin
inline constexpr int kVoxelPitchDim = kVptButtonCount;
inline constexpr int kVoxelYawDim = kVptButtonCount + 1;

// The voxel world's ActionSpec: 20 Binary buttons, then two Discrete camera bins labelled in degrees.
ActionSpec vpt_action_spec();
// VptAction -> [22]: cancels opposites, quantises the camera.
std::vector<float> vpt_to_vector(const VptAction& action);
// [22] -> VptAction with the camera at the bin centres. Throws wl::Error on a wrong width.
VptAction vpt_from_vector(std::span<const float> vector);

}  // namespace wl
