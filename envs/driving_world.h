// DrivingWorld: a front-camera view from a car on a procedural winding three-lane road, driven by
// the driving action space [A = 3] (steer, throttle, brake). The ego car is a kinematic bicycle
// model in road (Frenet) coordinates; a handful of other cars follow their lanes at their own
// speeds and keep their distance. Rendering is pseudo-3D: each screen row below the horizon is a
// ground distance, mapped to road coordinates for the asphalt, lane markings and roadside; cars
// and scenery are depth-sorted sprites. Output [H, W, 3] RGB8. Made by make_world("driving").
#pragma once

#include <vector>

#include "envs/rng.h"
#include "envs/world.h"

namespace wl {

struct CarState {
  float s = 0.f;        // metres along the road centreline
  float d = 0.f;        // metres left of the centreline
  float heading = 0.f;  // radians relative to the road direction, + left (ego only)
  float speed = 0.f;    // metres per second, >= 0
  float target_speed = 0.f;  // traffic only: the speed it cruises at
  int colour = 0;       // traffic only: index into the body colours
};

class DrivingWorld : public World {
 public:
  static constexpr float kLaneWidth = 3.5f;   // three lanes, centred on the centreline
  static constexpr float kMaxSpeed = 40.f;    // m/s, the ego's top speed
  static constexpr float kMaxAccel = 4.f;     // m/s^2 at full throttle
  static constexpr float kMaxBrake = 9.f;     // m/s^2 at full brake
  static constexpr float kWheelBase = 2.7f;   // metres, of the bicycle model
  static constexpr float kMaxSteerRad = 0.45f;  // wheel angle at steer 1 at standstill, / (1 + 0.08 speed) when moving
  static constexpr int kTrafficCars = 6;

  explicit DrivingWorld(const WorldConfig& config);
  const ActionSpec& action_spec() const override { return spec_; }
  const Frame& reset(uint64_t seed) override;
  const Frame& step(std::span<const float> action) override;
  const Frame& frame() const override { return frame_; }
  std::unique_ptr<World> clone() const override { return std::make_unique<DrivingWorld>(*this); }

  const CarState& ego() const { return ego_; }
  const std::vector<CarState>& traffic() const { return traffic_; }
  float curvature(float s) const;     // 1/m, + bends left
  float road_heading(float s) const;  // radians, the road direction at s (0 at s = 0)

 private:
  void move_ego(const float* action);
  void move_traffic();
  CarState spawn_car(float s);
  void render();

  WorldConfig config_;
  ActionSpec spec_;
  uint64_t seed_ = 0;
  float curve_amp_[2]{}, curve_freq_[2]{}, curve_phase_[2]{};  // the road: two sinusoids of curvature
  CarState ego_;
  std::vector<CarState> traffic_;
  Rng rng_;                        // traffic spawns, drawn in order
  Frame frame_;
};

}  // namespace wl
