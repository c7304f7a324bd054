// The driving world's dynamics and pseudo-3D renderer (see driving_world.h). Road coordinates:
// s along the centreline, d to the left of it; the road's curvature is two sinusoids of s drawn
// from the seed, so its heading has a closed form and the view needs no stored polyline.
#include "envs/driving_world.h"

#include <algorithm>
#include <cmath>

#include "envs/vec3.h"
#include "kernels/core/error.h"

namespace wl {
namespace {

constexpr float kDt = 0.05f;
constexpr float kRoadHalf = 1.5f * DrivingWorld::kLaneWidth;
constexpr float kShoulder = kRoadHalf + 1.3f;
constexpr float kFence = 14.f;            // the car cannot leave |d| <= 14 m
constexpr float kCarLength = 4.4f, kCarWidth = 1.8f, kCarHeight = 1.4f;
constexpr float kCameraHeight = 1.3f;
constexpr float kViewDistance = 200.f;
constexpr float kFovDeg = 60.f;           // vertical
constexpr float kHorizon = 0.42f;         // horizon row as a fraction of the height

const Vec3 kSkyTop{96, 150, 220}, kSkyHorizon{196, 214, 232}, kMountain{112, 128, 150};
const Vec3 kAsphalt{88, 88, 94}, kMarking{232, 232, 226}, kShoulderColour{150, 138, 116};
const Vec3 kGround[3] = {{72, 140, 56}, {166, 152, 84}, {52, 104, 48}};  // grass, dry field, forest floor
const Vec3 kBodies[6] = {{200, 40, 40}, {40, 80, 190}, {235, 235, 235}, {30, 30, 34}, {230, 180, 40}, {60, 150, 80}};

uint8_t to_byte(float c) { return static_cast<uint8_t>(std::clamp(c + 0.5f, 0.f, 255.f)); }
float lane_centre(int lane) { return (lane - 1) * DrivingWorld::kLaneWidth; }

}  // namespace

DrivingWorld::DrivingWorld(const WorldConfig& config) : config_(config), spec_(driving_action_spec()) {
  frame_.width = config.width;
  frame_.height = config.height;
  frame_.rgb.assign(static_cast<size_t>(config.width) * config.height * 3, 0);
}

float DrivingWorld::curvature(float s) const {
  return curve_amp_[0] * std::sin(curve_freq_[0] * s + curve_phase_[0]) +
         curve_amp_[1] * std::sin(curve_freq_[1] * s + curve_phase_[1]);
}

float DrivingWorld::road_heading(float s) const {
  float h = 0.f;
  for (int i = 0; i < 2; ++i)
    h += curve_amp_[i] / curve_freq_[i] * (std::cos(curve_phase_[i]) - std::cos(curve_freq_[i] * s + curve_phase_[i]));
  return h;
}

CarState DrivingWorld::spawn_car(float s) {
  CarState car;
  car.s = s;
  car.d = lane_centre(rng_.below(3));
  car.target_speed = rng_.uniform(14.f, 30.f);
  car.speed = car.target_speed;
  car.colour = rng_.below(6);
  return car;
}

const Frame& DrivingWorld::reset(uint64_t seed) {
  seed_ = seed;
  rng_ = Rng(seed);
  // Gentle bends (radius >= 50 m) over a few hundred metres, plus slower sweeping ones.
  curve_amp_[0] = rng_.uniform(0.006f, 0.012f), curve_freq_[0] = rng_.uniform(0.008f, 0.02f);
  curve_amp_[1] = rng_.uniform(0.002f, 0.006f), curve_freq_[1] = rng_.uniform(0.002f, 0.005f);
  curve_phase_[0] = rng_.uniform(0.f, 6.2831853f), curve_phase_[1] = rng_.uniform(0.f, 6.2831853f);
  ego_ = CarState{};
  ego_.d = lane_centre(0);
  ego_.speed = rng_.uniform(10.f, 20.f);
  traffic_.clear();
  for (int i = 0; i < kTrafficCars; ++i) traffic_.push_back(spawn_car(25.f + i * 45.f + rng_.uniform(0.f, 20.f)));
  render();
  return frame_;
}

const Frame& DrivingWorld::step(std::span<const float> action) {
  WL_CHECK(action.size() == static_cast<size_t>(kDrivingActionDims), "the driving world takes ", kDrivingActionDims,
           " action values (steer, throttle, brake), got ", action.size());
  move_ego(action.data());
  move_traffic();
  render();
  return frame_;
}

void DrivingWorld::move_ego(const float* action) {
  auto clean = [](float v, float lo, float hi) { return std::isfinite(v) ? std::clamp(v, lo, hi) : 0.f; };
  float steer = clean(action[kDrivingSteer], -1.f, 1.f);
  float throttle = clean(action[kDrivingThrottle], 0.f, 1.f), brake = clean(action[kDrivingBrake], 0.f, 1.f);
  CarState& e = ego_;
  float drag = e.speed > 0.f ? 0.2f + 0.0009f * e.speed * e.speed : 0.f;
  if (std::abs(e.d) > kShoulder) drag += 3.f;  // grass slows the car
  e.speed = std::clamp(e.speed + (throttle * kMaxAccel - brake * kMaxBrake - drag) * kDt, 0.f, kMaxSpeed);
  // Kinematic bicycle in Frenet coordinates; + steer turns right, i.e. towards -d.
  float delta = -steer * kMaxSteerRad / (1.f + 0.08f * e.speed);  // less at speed, so the car stays drivable
  constexpr int kSubsteps = 2;
  float h = kDt / kSubsteps;
  for (int i = 0; i < kSubsteps; ++i) {
    float k = curvature(e.s);
    float s_dot = e.speed * std::cos(e.heading) / std::max(0.2f, 1.f - k * e.d);
    e.s += s_dot * h;
    e.d += e.speed * std::sin(e.heading) * h;
    e.heading += (e.speed * std::tan(delta) / kWheelBase - k * s_dot) * h;
  }
  e.heading = std::clamp(e.heading, -1.2f, 1.2f);
  if (std::abs(e.d) > kFence) {  // the fence: stop sideways and scrub speed
    e.d = std::copysign(kFence, e.d);
    e.heading *= 0.5f;
    e.speed *= 0.8f;
  }
}

void DrivingWorld::move_traffic() {
  for (CarState& car : traffic_) {
    // Keep a two-second gap to whatever is ahead in the lane, the ego car included.
    float desired = car.target_speed;
    auto follow = [&](const CarState& other) {
      float gap = other.s - car.s - kCarLength;
      if (other.s > car.s && std::abs(other.d - car.d) < 2.f && gap < 2.f * car.speed + 6.f)
        desired = std::min(desired, other.speed * std::clamp(gap / (2.f * car.speed + 6.f), 0.f, 1.f));
    };
    for (const CarState& other : traffic_)
      if (&other != &car) follow(other);
    follow(ego_);
    float accel = std::clamp((desired - car.speed) / kDt, -7.f, 2.f);
    car.speed = std::max(0.f, car.speed + accel * kDt);
    car.s += car.speed * kDt;
    // Cars far behind or far ahead come back ahead of the ego, just out of view.
    if (car.s < ego_.s - 60.f || car.s > ego_.s + 450.f) car = spawn_car(ego_.s + rng_.uniform(180.f, 260.f));
  }
  for (CarState& car : traffic_) {  // a bump: the car behind gives way
    float ds = car.s - ego_.s;
    if (std::abs(ds) < kCarLength && std::abs(car.d - ego_.d) < kCarWidth) {
      if (ds > 0) ego_.s = car.s - kCarLength, ego_.speed = std::min(ego_.speed, car.speed);
      else car.s = ego_.s - kCarLength, car.speed = std::min(car.speed, ego_.speed);
    }
  }
}

void DrivingWorld::render() {
  const int W = frame_.width, H = frame_.height;
  const float focal = 0.5f * H / std::tan(kFovDeg * 0.5f * 0.017453292f);
  const float horizon = kHorizon * H;
  const float cos_h = std::cos(ego_.heading), sin_h = std::sin(ego_.heading);
  // The centreline's lateral offset at each metre ahead, in the road frame at the ego's s.
  constexpr int kTable = static_cast<int>(kViewDistance) + 2;
  float centre[kTable];
  const float heading0 = road_heading(ego_.s);
  centre[0] = 0.f;
  for (int i = 1; i < kTable; ++i) centre[i] = centre[i - 1] + std::sin(road_heading(ego_.s + i - 0.5f) - heading0);
  auto centre_at = [&](float X) {
    float f = std::clamp(X, 0.f, kTable - 1.001f);
    int i = static_cast<int>(f);
    return centre[i] + (centre[i + 1] - centre[i]) * (f - i);
  };
  const uint64_t biome_seed = seed_ ^ 0xB10E;
  uint8_t* out = frame_.rgb.data();
  const float view_heading = heading0 + ego_.heading;
  for (int py = 0; py < H; ++py) {
    const float dy = py + 0.5f - horizon;
    for (int px = 0; px < W; ++px, out += 3) {
      const float xn = (px + 0.5f - 0.5f * W) / focal;
      Vec3 c;
      if (dy <= 0.f) {
        // Sky, with a mountain ridge fixed to the world's directions (it slides as the car turns).
        float angle = view_heading - std::atan(xn);
        float a = angle * (32.f / 6.2831853f);
        float fa = std::floor(a);
        int i0 = static_cast<int>(fa) & 31;
        float r0 = hash01(hash_coords(seed_, i0)), r1 = hash01(hash_coords(seed_, (i0 + 1) & 31));
        float ridge = (0.03f + 0.07f * (r0 + (r1 - r0) * (a - fa))) * H;
        c = -dy < ridge ? kMountain : lerp(kSkyHorizon, kSkyTop, std::min(1.f, -dy / horizon));
      } else {
        const float z = kCameraHeight * focal / dy, x = xn * z;
        const float X = z * cos_h + x * sin_h;
        const float lateral = ego_.d + z * sin_h - x * cos_h - centre_at(X);
        const float s = ego_.s + X, ad = std::abs(lateral);
        if (ad < kRoadHalf) {
          c = kAsphalt * (0.94f + 0.06f * hash01(hash_coords(seed_, static_cast<int>(std::floor(s * 1.5f)),
                                                            static_cast<int>(std::floor(lateral * 3.f)))));
          bool edge = std::abs(ad - (kRoadHalf - 0.25f)) < 0.12f;
          bool divider = std::abs(ad - 0.5f * kLaneWidth) < 0.09f && std::fmod(std::abs(s), 12.f) < 5.f;
          if (edge || divider) c = kMarking;
        } else if (ad < kShoulder) {
          c = kShoulderColour;
        } else {
          // The roadside changes every 250 m between grass, fields and forest; stripes show speed.
          int biome = static_cast<int>(hash_coords(biome_seed, static_cast<int>(std::floor(s / 250.f))) % 3);
          c = kGround[biome] * (static_cast<int>(std::floor(s / 8.f)) & 1 ? 0.93f : 1.f);
        }
        float fog = std::clamp(z / kViewDistance, 0.f, 1.f);
        c = lerp(c, kSkyHorizon, fog * fog);
      }
      out[0] = to_byte(c.x), out[1] = to_byte(c.y), out[2] = to_byte(c.z);
    }
  }
  // [SECTION] Sprites: cars, trees and guide posts, far to near.
  struct Rect {
    float z;
    float x0, x1, y0, y1;  // metres in the camera frame: lateral span, height span above the ground
    Vec3 colour;
  };
  std::vector<Rect> rects;
  auto place = [&](float X, float d, float half_width, float y0, float y1, Vec3 colour, float depth_bias) {
    float Yr = centre_at(X) + d - ego_.d;
    float z = X * cos_h + Yr * sin_h, x = X * sin_h - Yr * cos_h;
    if (z > 1.f && z < kViewDistance) rects.push_back({z - depth_bias, x - half_width, x + half_width, y0, y1, colour});
  };
  for (const CarState& car : traffic_) {
    float X = car.s - ego_.s;
    if (X < 1.f) continue;
    Vec3 body = kBodies[car.colour];
    place(X, car.d, 0.5f * kCarWidth, 0.f, kCarHeight, body, 0.f);
    place(X, car.d, 0.4f * kCarWidth, 0.85f, 1.3f, {40, 48, 58}, 0.01f);  // rear window
    place(X, car.d + 0.65f, 0.18f, 0.5f, 0.7f, {230, 30, 30}, 0.02f);    // tail lights
    place(X, car.d - 0.65f, 0.18f, 0.5f, 0.7f, {230, 30, 30}, 0.02f);
  }
  for (int cell = static_cast<int>(std::floor(ego_.s / 20.f)); cell * 20.f < ego_.s + kViewDistance; ++cell) {
    uint64_t h = hash_coords(seed_ ^ 0x7EE5, cell);
    float X = cell * 20.f + 20.f * hash01(h) - ego_.s;
    float side = (h >> 8 & 1) ? 1.f : -1.f;
    float d = side * (kShoulder + 2.f + 8.f * hash01(splitmix64(h)));
    float size = 0.8f + 0.6f * hash01(splitmix64(h + 1));
    place(X, d, 0.2f * size, 0.f, 2.f * size, {92, 64, 40}, 0.f);
    place(X, d, 1.5f * size, 1.6f * size, 4.5f * size, Vec3{40, 110, 45} * (0.8f + 0.4f * hash01(splitmix64(h + 2))), 0.01f);
    place(cell * 20.f - ego_.s, kShoulder - 0.3f, 0.08f, 0.f, 1.f, {236, 236, 236}, 0.f);   // guide posts
    place(cell * 20.f - ego_.s, -kShoulder + 0.3f, 0.08f, 0.f, 1.f, {236, 236, 236}, 0.f);
  }
  std::stable_sort(rects.begin(), rects.end(), [](const Rect& a, const Rect& b) { return a.z > b.z; });
  for (const Rect& r : rects) {
    float k = focal / r.z, fog = std::clamp(r.z / kViewDistance, 0.f, 1.f);
    Vec3 c = lerp(r.colour, kSkyHorizon, fog * fog);
    int x0 = std::max(0, static_cast<int>(std::lround(0.5f * W + r.x0 * k)));
    int x1 = std::min(W, static_cast<int>(std::lround(0.5f * W + r.x1 * k)));
    int y0 = std::max(0, static_cast<int>(std::lround(horizon + (kCameraHeight - r.y1) * k)));
    int y1 = std::min(H, static_cast<int>(std::lround(horizon + (kCameraHeight - r.y0) * k)));
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        uint8_t* p = frame_.rgb.data() + (static_cast<size_t>(y) * W + x) * 3;
        p[0] = to_byte(c.x), p[1] = to_byte(c.y), p[2] = to_byte(c.z);
      }
  }
}

}  // namespace wl
