// VPT buttons and mu-law camera bins (see vpt_actions.h). The quantiser follows VPT's
// lib/actions.py CameraQuantizer in double precision, so a bin computed here equals numpy's.
#include "envs/vpt_actions.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "kernels/core/error.h"

namespace wl {

int vpt_button_index(std::string_view name) {
  for (int i = 0; i < kVptButtonCount; ++i)
    if (kVptButtonNames[i] == name) return i;
  return -1;
}

namespace {
double sign(double x) { return x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : 0.0); }

// mu-law encoding scaled back to degrees: [-10, 10] -> [-10, 10], steep near zero so that small
// camera motions get finer bins than large ones.
double mu_law_encode(double degrees) {
  double x = degrees / kVptCameraMaxDeg;
  return sign(x) * std::log(1.0 + kVptCameraMu * std::abs(x)) / std::log(1.0 + kVptCameraMu) * kVptCameraMaxDeg;
}

double mu_law_decode(double encoded) {
  double x = encoded / kVptCameraMaxDeg;
  return sign(x) * (1.0 / kVptCameraMu) * (std::pow(1.0 + kVptCameraMu, std::abs(x)) - 1.0) * kVptCameraMaxDeg;
}
}  // namespace

int vpt_camera_bin(double degrees) {
  if (std::isnan(degrees)) return kVptCameraNullBin;
  double clipped = std::clamp(degrees, -kVptCameraMaxDeg, kVptCameraMaxDeg);
  // std::nearbyint rounds half to even in the default rounding mode, as np.round does.
  double bin = std::nearbyint((mu_law_encode(clipped) + kVptCameraMaxDeg) / kVptCameraBinSize);
  return std::clamp(static_cast<int>(bin), 0, kVptCameraBins - 1);
}

double vpt_camera_degrees(int bin) {
  WL_CHECK(bin >= 0 && bin < kVptCameraBins, "VPT camera bin ", bin, " is outside [0, ", kVptCameraBins - 1,
           "]; hint: bins come from vpt_camera_bin()");
  return mu_law_decode(bin * kVptCameraBinSize - kVptCameraMaxDeg);
}

std::array<double, kVptCameraBins - 1> vpt_camera_bin_edges() {
  // Bin i covers encoded values within binsize/2 of its centre, so edges sit at odd encoded values.
  std::array<double, kVptCameraBins - 1> edges{};
  for (int i = 0; i + 1 < kVptCameraBins; ++i)
    edges[i] = mu_law_decode((i + 0.5) * kVptCameraBinSize - kVptCameraMaxDeg);
  return edges;
}

void cancel_opposites(VptAction& action) {
  auto& b = action.buttons;
  if (b[kForward] && b[kBack]) b[kForward] = b[kBack] = false;
  if (b[kLeft] && b[kRight]) b[kLeft] = b[kRight] = false;
}

ActionSpec vpt_action_spec() {
  ActionSpec spec{"voxel", {}};
  for (std::string_view name : kVptButtonNames)
    spec.dims.push_back({std::string(name), ActionKind::Binary, 0.f, 1.f, {}});
  std::vector<std::string> labels;
  for (int bin = 0; bin < kVptCameraBins; ++bin) {
    char text[16];
    std::snprintf(text, sizeof text, "%+.2f deg", vpt_camera_degrees(bin));
    labels.push_back(text);
  }
  spec.dims.push_back({"camera_pitch", ActionKind::Discrete, 0.f, kVptCameraBins - 1.f, labels});
  spec.dims.push_back({"camera_yaw", ActionKind::Discrete, 0.f, kVptCameraBins - 1.f, labels});
  return spec;
}

std::vector<float> vpt_to_vector(const VptAction& action) {
  VptAction cancelled = action;
  cancel_opposites(cancelled);
  std::vector<float> vector(kVoxelActionDims, 0.f);
  for (int i = 0; i < kVptButtonCount; ++i) vector[i] = cancelled.buttons[i] ? 1.f : 0.f;
  vector[kVoxelPitchDim] = static_cast<float>(vpt_camera_bin(action.camera_pitch_deg));
  vector[kVoxelYawDim] = static_cast<float>(vpt_camera_bin(action.camera_yaw_deg));
  return vector;
}

VptAction vpt_from_vector(std::span<const float> vector) {
  WL_CHECK(vector.size() == static_cast<size_t>(kVoxelActionDims), "a voxel action vector has ", kVoxelActionDims,
           " values (20 VPT buttons, pitch bin, yaw bin), got ", vector.size());
  VptAction action;
  for (int i = 0; i < kVptButtonCount; ++i) action.buttons[i] = vector[i] >= 0.5f;
  // Out-of-range or NaN bins fall back to the null bin: a model's raw output must not crash the world.
  auto bin_of = [](float v) {
    if (!(v >= 0.f && v <= kVptCameraBins - 1.f)) return kVptCameraNullBin;
    return static_cast<int>(std::lround(v));
  };
  action.camera_pitch_deg = vpt_camera_degrees(bin_of(vector[kVoxelPitchDim]));
  action.camera_yaw_deg = vpt_camera_degrees(bin_of(vector[kVoxelYawDim]));
  return action;
}

}  // namespace wl
