// The robot world's kinematics, grasping, block physics and renderer (see robot_world.h). Every solid
// is an oriented box (blocks: upright cubes; the gripper: two fingers, a palm and a wrist link), so
// one separating-axis test serves collisions and one slab test serves rays. The camera never moves,
// so the table, floor and wall are rendered once per reset and each frame only draws the shadows
// and the boxes over that background.
#include "envs/robot_world.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "envs/rng.h"
#include "kernels/core/error.h"

namespace wl {
namespace {

constexpr float kDt = 0.05f;
constexpr float kGravity = 9.81f;
constexpr float kTouch = 1e-4f;            // boxes closer than this overlap; touching faces do not
constexpr float kFingerHalfX = 0.012f, kFingerThick = 0.012f;
constexpr float kPalmHalfZ = 0.008f, kWristHalf = 0.018f, kWristHalfZ = 0.3f;  // the wrist link leaves the view upwards
constexpr float kReleaseSlack = 0.004f;    // opening this much past the held block lets it go
constexpr float kTableThickness = 0.04f, kFloorZ = -0.75f, kWallX = 1.6f;
constexpr float kFovDeg = 54.f;            // vertical
constexpr float kPi = 3.14159265f;

// An oriented box: centre, unit axes (columns of its rotation), half extents along them.
struct Box {
  Vec3 c;
  std::array<Vec3, 3> a;
  Vec3 h;
  Vec3 colour;  // 0..255
};

float comp(Vec3 v, int k) { return k == 0 ? v.x : k == 1 ? v.y : v.z; }

// Separating-axis test (15 axes); boxes whose overlap along some axis is under kTouch are apart.
bool boxes_overlap(const Box& p, const Box& q) {
  Vec3 t = q.c - p.c;
  auto separated = [&](Vec3 axis) {
    float len = std::sqrt(dot(axis, axis));
    if (len < 1e-6f) return false;  // parallel edges: the face axes decide
    float rp = 0.f, rq = 0.f;
    for (int k = 0; k < 3; ++k) {
      rp += std::abs(dot(p.a[k], axis)) * comp(p.h, k);
      rq += std::abs(dot(q.a[k], axis)) * comp(q.h, k);
    }
    return std::abs(dot(t, axis)) > rp + rq - kTouch * len;
  };
  for (int i = 0; i < 3; ++i)
    if (separated(p.a[i]) || separated(q.a[i])) return false;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      if (separated(cross(p.a[i], q.a[j]))) return false;
  return true;
}

float lowest_z(const Box& b) {
  return b.c.z - std::abs(b.a[0].z) * b.h.x - std::abs(b.a[1].z) * b.h.y - std::abs(b.a[2].z) * b.h.z;
}

// Slab test of the ray o + t d against a box: the entry distance (or +inf on a miss) and the axis
// and sign of the face it enters.
struct BoxHit {
  float t = std::numeric_limits<float>::infinity();
  int axis = 0;
  float sign = 1.f;
};
BoxHit ray_box(Vec3 local_o, Vec3 local_d, Vec3 h) {
  float t_near = -std::numeric_limits<float>::infinity(), t_far = std::numeric_limits<float>::infinity();
  BoxHit hit;
  for (int k = 0; k < 3; ++k) {
    float o = comp(local_o, k), d = comp(local_d, k), e = comp(h, k);
    if (std::abs(d) < 1e-9f) {
      if (std::abs(o) > e) return {};
      continue;
    }
    float t0 = (-e - o) / d, t1 = (e - o) / d;
    if (t0 > t1) std::swap(t0, t1);
    if (t0 > t_near) t_near = t0, hit.axis = k, hit.sign = d > 0 ? -1.f : 1.f;
    t_far = std::min(t_far, t1);
    if (t_near > t_far || t_far <= 0.f) return {};
  }
  hit.t = t_near;
  return hit;
}

Vec3 to_local(const Box& b, Vec3 v) { return {dot(v, b.a[0]), dot(v, b.a[1]), dot(v, b.a[2])}; }

const Vec3 kBlockColours[7] = {{214, 48, 44},  {52, 160, 72},  {44, 92, 212}, {236, 196, 40},
                               {150, 72, 184}, {32, 172, 182}, {240, 132, 44}};
const Vec3 kFingerColour{58, 60, 66}, kPalmColour{150, 154, 162}, kWristColour{214, 216, 220};
const Vec3 kLight = normalize({-0.35f, 0.25f, 1.f});  // towards the lamp: shadows fall away and right

Box block_box(const RobotBlock& b, Vec3 colour = {}) {
  float c = std::cos(b.yaw), s = std::sin(b.yaw), e = 0.5f * b.size;
  return {b.centre, {Vec3{c, s, 0.f}, Vec3{-s, c, 0.f}, Vec3{0.f, 0.f, 1.f}}, {e, e, e}, colour};
}

// The gripper's boxes in the world: [0] and [1] the fingers (+y, -y), [2] the palm, [3] the wrist.
std::array<Box, 4> gripper_boxes(const RobotGripper& g) {
  std::array<Vec3, 3> r = gripper_axes(g);
  auto place = [&](Vec3 local_centre, Vec3 half, Vec3 colour) {
    return Box{g.position + r[0] * local_centre.x + r[1] * local_centre.y + r[2] * local_centre.z, r, half, colour};
  };
  constexpr float L = RobotWorld::kFingerLength;
  float fy = 0.5f * g.gap + 0.5f * kFingerThick;
  return {place({0.f, fy, 0.5f * L}, {kFingerHalfX, 0.5f * kFingerThick, 0.5f * L}, kFingerColour),
          place({0.f, -fy, 0.5f * L}, {kFingerHalfX, 0.5f * kFingerThick, 0.5f * L}, kFingerColour),
          place({0.f, 0.f, L + kPalmHalfZ}, {0.016f, 0.5f * RobotWorld::kMaxGap + kFingerThick, kPalmHalfZ}, kPalmColour),
          place({0.f, 0.f, L + 2.f * kPalmHalfZ + kWristHalfZ}, {kWristHalf, kWristHalf, kWristHalfZ}, kWristColour)};
}

// Where the held block is for a gripper pose: its offset turns with the gripper, the cube stays upright.
RobotBlock held_pose(const RobotGripper& g, RobotBlock block) {
  std::array<Vec3, 3> r = gripper_axes(g);
  block.centre = g.position + r[0] * g.hold_offset.x + r[1] * g.hold_offset.y + r[2] * g.hold_offset.z;
  block.yaw = g.yaw;  // squared up with the fingers (a cube turned by 90 degrees looks the same)
  block.velocity = 0.f;
  return block;
}

uint8_t to_byte(float c) { return static_cast<uint8_t>(std::clamp(c + 0.5f, 0.f, 255.f)); }
float clean(float v, float lo, float hi) { return std::isfinite(v) ? std::clamp(v, lo, hi) : 0.f; }

}  // namespace

std::array<Vec3, 3> gripper_axes(const RobotGripper& g) {
  float cr = std::cos(g.roll), sr = std::sin(g.roll), cp = std::cos(g.pitch), sp = std::sin(g.pitch);
  float cy = std::cos(g.yaw), sy = std::sin(g.yaw);
  return {Vec3{cy * cp, sy * cp, -sp}, Vec3{cy * sp * sr - sy * cr, sy * sp * sr + cy * cr, cp * sr},
          Vec3{cy * sp * cr + sy * sr, sy * sp * cr - cy * sr, cp * cr}};
}

RobotWorld::RobotWorld(const WorldConfig& config) : config_(config), spec_(robot_action_spec()) {
  frame_.width = config.width;
  frame_.height = config.height;
  size_t pixels = static_cast<size_t>(config.width) * config.height;
  frame_.rgb.assign(pixels * 3, 0);
  depth_.assign(pixels, 0.f);
  shadow_stamp_.assign(pixels, 0);
}

const Frame& RobotWorld::reset(uint64_t seed) {
  Rng rng(seed);
  // The head: a little jitter per episode, always looking down at the middle of the table.
  eye_ = {-0.44f + rng.uniform(-0.03f, 0.03f), rng.uniform(-0.04f, 0.04f), 0.6f + rng.uniform(-0.03f, 0.03f)};
  Vec3 target{0.07f + rng.uniform(-0.02f, 0.02f), rng.uniform(-0.02f, 0.02f), 0.04f};
  cam_[2] = normalize(target - eye_);
  cam_[0] = normalize(cross(cam_[2], {0.f, 0.f, 1.f}));
  cam_[1] = cross(cam_[0], cam_[2]);
  focal_ = 0.5f * config_.height / std::tan(kFovDeg * 0.5f * kPi / 180.f);
  // Blocks: 3-5 cubes of distinct colours, apart enough for the fingers to fit between them.
  int count = 3 + rng.below(3);
  int colours[7] = {0, 1, 2, 3, 4, 5, 6};
  for (int i = 6; i > 0; --i) std::swap(colours[i], colours[rng.below(i + 1)]);
  blocks_.clear();
  for (int tries = 0; static_cast<int>(blocks_.size()) < count && tries < 200; ++tries) {
    RobotBlock b;
    b.size = rng.uniform(0.042f, 0.06f);
    b.centre = {rng.uniform(-0.14f, 0.24f), rng.uniform(-0.22f, 0.22f), 0.5f * b.size};
    b.yaw = rng.uniform(0.f, 0.5f * kPi);
    b.colour = colours[blocks_.size()];
    bool apart = true;
    for (const RobotBlock& o : blocks_) {
      float dx = b.centre.x - o.centre.x, dy = b.centre.y - o.centre.y;
      apart = apart && std::sqrt(dx * dx + dy * dy) > 0.72f * (b.size + o.size) + 0.03f;
    }
    if (apart) blocks_.push_back(b);
  }
  gripper_ = RobotGripper{};
  gripper_.position = {rng.uniform(-0.08f, 0.2f), rng.uniform(-0.15f, 0.15f), rng.uniform(0.14f, 0.24f)};
  gripper_.yaw = rng.uniform(-0.5f, 0.5f);
  gripper_.gap = kMaxGap;
  frame_number_ = 0;
  std::fill(shadow_stamp_.begin(), shadow_stamp_.end(), 0u);
  render_background(rng.next());
  render();
  return frame_;
}

const Frame& RobotWorld::step(std::span<const float> action) {
  WL_CHECK(action.size() == static_cast<size_t>(kRobotActionDims), "the robot world takes ", kRobotActionDims,
           " action values (dx, dy, dz, droll, dpitch, dyaw, gripper), got ", action.size());
  float a[kRobotActionDims];
  for (int i = 0; i < kRobotActionDims; ++i) a[i] = clean(action[i], i == kRobotGripper ? 0.f : -1.f, 1.f);
  turn_and_move(a);
  open_or_close(a[kRobotGripper]);
  fall();
  render();
  return frame_;
}

// [SECTION] Kinematics and grasping

bool RobotWorld::pose_valid(const RobotGripper& g) const {
  const Vec3& p = g.position;
  if (p.x < kWorkspaceMin.x || p.y < kWorkspaceMin.y || p.z < kWorkspaceMin.z || p.x > kWorkspaceMax.x ||
      p.y > kWorkspaceMax.y || p.z > kWorkspaceMax.z)
    return false;
  std::array<Box, 4> parts = gripper_boxes(g);
  for (const Box& part : parts)
    if (lowest_z(part) < -kTouch) return false;
  Box held;
  if (g.held >= 0) {
    held = block_box(held_pose(g, blocks_[g.held]));
    if (lowest_z(held) < -kTouch) return false;
  }
  for (int i = 0; i < static_cast<int>(blocks_.size()); ++i) {
    if (i == g.held) continue;
    Box b = block_box(blocks_[i]);
    for (const Box& part : parts)
      if (boxes_overlap(part, b)) return false;
    if (g.held >= 0 && boxes_overlap(held, b)) return false;
  }
  return true;
}

void RobotWorld::turn_and_move(const float* action) {
  // Turn in the gripper frame: R' = R Rz(dyaw) Ry(dpitch) Rx(droll), back to roll/pitch/yaw with the
  // tilt limited. Then move along the new gripper axes, one world axis at a time, so a blocked
  // direction does not stop the others.
  RobotGripper g = gripper_;
  std::array<Vec3, 3> r = gripper_axes(g);
  RobotGripper turn;
  turn.roll = action[kRobotDroll] * kMaxTurn, turn.pitch = action[kRobotDpitch] * kMaxTurn;
  turn.yaw = action[kRobotDyaw] * kMaxTurn;
  std::array<Vec3, 3> d = gripper_axes(turn);
  std::array<Vec3, 3> n;
  for (int k = 0; k < 3; ++k) n[k] = r[0] * d[k].x + r[1] * d[k].y + r[2] * d[k].z;  // columns of R * dR
  g.pitch = std::clamp(-std::asin(std::clamp(n[0].z, -1.f, 1.f)), -kMaxTilt, kMaxTilt);
  g.roll = std::clamp(std::atan2(n[1].z, n[2].z), -kMaxTilt, kMaxTilt);
  g.yaw = std::atan2(n[0].y, n[0].x);
  if (pose_valid(g)) gripper_ = g;
  r = gripper_axes(gripper_);
  Vec3 delta = (r[0] * action[kRobotDx] + r[1] * action[kRobotDy] + r[2] * action[kRobotDz]) * kMaxStep;
  for (int k = 0; k < 3; ++k) {
    g = gripper_;
    float* c = k == 0 ? &g.position.x : k == 1 ? &g.position.y : &g.position.z;
    *c = std::clamp(*c + comp(delta, k), comp(kWorkspaceMin, k), comp(kWorkspaceMax, k));
    if (*c != comp(gripper_.position, k) && pose_valid(g)) gripper_ = g;
  }
  if (gripper_.held >= 0) blocks_[gripper_.held] = held_pose(gripper_, blocks_[gripper_.held]);
}

void RobotWorld::open_or_close(float command) {
  RobotGripper& g = gripper_;
  const float target = kMinGap + command * (kMaxGap - kMinGap);
  if (g.held >= 0) {
    if (target <= blocks_[g.held].size + kReleaseSlack) return;  // still pinching
    g.held = -1;  // released: the block keeps its place and falls from there
  }
  if (target >= g.gap) {
    RobotGripper open = g;
    open.gap = std::min(target, g.gap + kGapRate);
    if (pose_valid(open)) g = open;
    return;
  }
  // Closing. A block between the fingertips is grasped when a finger reaches it: the fingers centre
  // it between them and square it up (its yaw snaps to the fingers'), as a parallel gripper does.
  RobotGripper closed = g;
  closed.gap = std::max(target, g.gap - kGapRate);
  std::array<Vec3, 3> r = gripper_axes(g);
  int best = -1;
  float best_y = 0.f;
  for (int i = 0; i < static_cast<int>(blocks_.size()); ++i) {
    const RobotBlock& b = blocks_[i];
    Vec3 rel = b.centre - g.position;
    Vec3 local{dot(rel, r[0]), dot(rel, r[1]), dot(rel, r[2])};
    float e = 0.5f * b.size;
    float overlap_z = std::min(local.z + e, kFingerLength) - std::max(local.z - e, 0.f);
    if (std::abs(local.y) >= 0.5f * g.gap || std::abs(local.x) > kFingerHalfX + e - 0.005f || overlap_z < 0.01f) continue;
    if (best < 0 || std::abs(local.y) < std::abs(best_y)) best = i, best_y = local.y;
  }
  if (best >= 0) {
    const RobotBlock& b = blocks_[best];
    // Half the block's width across the fingers, at its current yaw relative to them.
    float rel_yaw = b.yaw - g.yaw;
    float half_width = 0.5f * b.size * (std::abs(std::cos(rel_yaw)) + std::abs(std::sin(rel_yaw)));
    if (0.5f * closed.gap <= std::abs(best_y) + half_width) {
      RobotGripper grasp = g;
      grasp.held = best;
      grasp.gap = b.size;
      Vec3 centred = b.centre - r[1] * best_y;
      Vec3 rel = centred - g.position;
      grasp.hold_offset = {dot(rel, r[0]), 0.f, dot(rel, r[2])};
      if (pose_valid(grasp)) {
        g = grasp;
        blocks_[best] = held_pose(g, blocks_[best]);
      }
      return;  // grasped, or squeezing a block that cannot turn or move: the fingers stop on it
    }
  }
  if (pose_valid(closed)) g = closed;
}

void RobotWorld::fall() {
  // Lowest first, so a block lands on the final place of the one below it. A block rests on the
  // highest top (the table's or a block's) under its footprint that it has not already passed.
  const int n = static_cast<int>(blocks_.size());
  int order[kMaxBlocks];
  for (int i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order, order + n, [&](int p, int q) {
    return blocks_[p].centre.z - 0.5f * blocks_[p].size < blocks_[q].centre.z - 0.5f * blocks_[q].size;
  });
  for (int k = 0; k < n; ++k) {
    int i = order[k];
    if (i == gripper_.held) continue;
    RobotBlock& b = blocks_[i];
    float bottom = b.centre.z - 0.5f * b.size, support = 0.f;
    Box column = block_box(b);
    column.h.z = 1.f, column.c.z = 0.f;  // the footprint, extruded through all heights
    for (int j = 0; j < n; ++j) {
      if (j == i) continue;
      float top = blocks_[j].centre.z + 0.5f * blocks_[j].size;
      if (top <= bottom + kTouch && top > support && boxes_overlap(column, block_box(blocks_[j]))) support = top;
    }
    if (bottom <= support + kTouch && b.velocity == 0.f) continue;  // resting
    b.velocity -= kGravity * kDt;
    bottom += b.velocity * kDt;
    if (bottom <= support) bottom = support, b.velocity = 0.f;
    b.centre.z = bottom + 0.5f * b.size;
  }
}

bool RobotWorld::blocks_interpenetrate() const {
  for (size_t i = 0; i < blocks_.size(); ++i) {
    if (blocks_[i].centre.z - 0.5f * blocks_[i].size < -kTouch) return true;
    for (size_t j = i + 1; j < blocks_.size(); ++j)
      if (boxes_overlap(block_box(blocks_[i]), block_box(blocks_[j]))) return true;
  }
  return false;
}

int RobotWorld::support_of(int i) const {
  const RobotBlock& b = blocks_[i];
  if (i == gripper_.held || b.velocity != 0.f) return -1;
  float bottom = b.centre.z - 0.5f * b.size;
  Box column = block_box(b);
  column.h.z = 1.f, column.c.z = 0.f;
  for (int j = 0; j < static_cast<int>(blocks_.size()); ++j) {
    float top = blocks_[j].centre.z + 0.5f * blocks_[j].size;
    if (j != i && std::abs(top - bottom) <= kTouch && boxes_overlap(column, block_box(blocks_[j]))) return j;
  }
  return -1;
}

// [SECTION] Rendering

void RobotWorld::render_background(uint64_t look) {
  const int W = config_.width, H = config_.height;
  rays_.resize(static_cast<size_t>(W) * H);
  background_.resize(rays_.size() * 3);
  table_t_.assign(rays_.size(), -1.f);
  // Per episode: the table's wood (or a grey lab top), the floor and the wall.
  const Vec3 kTops[4] = {{178, 134, 88}, {146, 100, 62}, {196, 170, 130}, {150, 152, 150}};
  const Vec3 kWalls[3] = {{206, 204, 196}, {180, 196, 206}, {214, 200, 176}};
  Vec3 top = kTops[look % 4], wall = kWalls[(look >> 8) % 3], floor{96, 92, 90};
  const float lit = 0.55f + 0.45f * kLight.z;
  for (int py = 0; py < H; ++py)
    for (int px = 0; px < W; ++px) {
      size_t i = static_cast<size_t>(py) * W + px;
      Vec3 d = normalize(cam_[2] * focal_ + cam_[0] * (px + 0.5f - 0.5f * W) + cam_[1] * (0.5f * H - py - 0.5f));
      rays_[i] = d;
      Vec3 c;
      float t_top = d.z < 0.f ? -eye_.z / d.z : -1.f;
      Vec3 p = eye_ + d * t_top;
      float t_front = d.x > 0.f ? (kTableMin[0] - eye_.x) / d.x : -1.f;
      Vec3 q = eye_ + d * t_front;
      if (t_top > 0.f && p.x >= kTableMin[0] && p.x <= kTableMax[0] && p.y >= kTableMin[1] && p.y <= kTableMax[1]) {
        // Planks along x with grain, a lamp-like falloff from the middle of the table.
        int plank = static_cast<int>(std::floor(p.y / 0.11f));
        float grain = hash01(hash_coords(look, plank, static_cast<int>(std::floor(p.x * 90.f + 7.f * hash01(hash_coords(look, plank))))));
        float tone = 0.9f + 0.12f * hash01(hash_coords(look ^ 1, plank)) - 0.06f * grain;
        if (std::abs(p.y - (plank + 1) * 0.11f) < 0.0025f || std::abs(p.y - plank * 0.11f) < 0.0025f) tone *= 0.8f;
        float r2 = (p.x - 0.05f) * (p.x - 0.05f) + p.y * p.y;
        c = top * (tone * lit * (1.05f - 0.5f * r2));
        table_t_[i] = t_top;
      } else if (t_front > 0.f && q.z <= 0.f && q.z >= -kTableThickness && std::abs(q.y) <= kTableMax[1]) {
        c = top * 0.5f;
      } else {
        // Beyond the table: the floor's tiles, then the wall.
        float t_floor = d.z < 0.f ? (kFloorZ - eye_.z) / d.z : -1.f;
        float t_wall = d.x > 0.f ? (kWallX - eye_.x) / d.x : std::numeric_limits<float>::infinity();
        if (t_floor > 0.f && t_floor < t_wall) {
          Vec3 f = eye_ + d * t_floor;
          bool odd = (static_cast<int>(std::floor(f.x / 0.4f)) + static_cast<int>(std::floor(f.y / 0.4f))) & 1;
          c = floor * (odd ? 0.9f : 1.f);
          // Under the table it is darker.
          if (f.x > kTableMin[0] && f.x < kTableMax[0] && std::abs(f.y) < kTableMax[1]) c = c * 0.55f;
        } else {
          Vec3 w = eye_ + d * t_wall;
          c = wall * (w.z < kFloorZ + 0.1f ? 0.75f : 0.92f + 0.08f * std::clamp(w.z, 0.f, 1.f));
        }
      }
      uint8_t* out = &background_[i * 3];
      out[0] = to_byte(c.x), out[1] = to_byte(c.y), out[2] = to_byte(c.z);
    }
}

void RobotWorld::render() {
  const int W = config_.width, H = config_.height;
  ++frame_number_;
  std::copy(background_.begin(), background_.end(), frame_.rgb.begin());
  std::fill(depth_.begin(), depth_.end(), std::numeric_limits<float>::infinity());
  Box boxes[kMaxBlocks + 4];
  int count = 0;
  for (const RobotBlock& b : blocks_) boxes[count++] = block_box(b, kBlockColours[b.colour]);
  for (const Box& part : gripper_boxes(gripper_)) boxes[count++] = part;
  // The screen rectangle covering a set of points (all in front of the camera).
  auto screen_rect = [&](const Vec3* points, int n, int rect[4]) {
    float x0 = 1e9f, x1 = -1e9f, y0 = 1e9f, y1 = -1e9f;
    for (int k = 0; k < n; ++k) {
      Vec3 v = points[k] - eye_;
      float z = std::max(dot(v, cam_[2]), 1e-3f);
      float sx = 0.5f * W + focal_ * dot(v, cam_[0]) / z, sy = 0.5f * H - focal_ * dot(v, cam_[1]) / z;
      x0 = std::min(x0, sx), x1 = std::max(x1, sx), y0 = std::min(y0, sy), y1 = std::max(y1, sy);
    }
    rect[0] = std::max(0, static_cast<int>(std::floor(x0))), rect[1] = std::min(W, static_cast<int>(std::ceil(x1)) + 1);
    rect[2] = std::max(0, static_cast<int>(std::floor(y0))), rect[3] = std::min(H, static_cast<int>(std::ceil(y1)) + 1);
  };
  auto corners = [](const Box& b, Vec3 out[8]) {
    for (int k = 0; k < 8; ++k)
      out[k] = b.c + b.a[0] * (k & 1 ? b.h.x : -b.h.x) + b.a[1] * (k & 2 ? b.h.y : -b.h.y) + b.a[2] * (k & 4 ? b.h.z : -b.h.z);
  };
  auto in_shadow = [&](Vec3 p, int skip) {
    for (int j = 0; j < count; ++j) {
      if (j == skip) continue;
      Vec3 o = to_local(boxes[j], p - boxes[j].c);
      if (ray_box(o, to_local(boxes[j], kLight), boxes[j].h).t < std::numeric_limits<float>::infinity()) return true;
    }
    return false;
  };
  // Shadows on the table: each box's shadow lies inside the hull of its corners projected along the light.
  for (int b = 0; b < count; ++b) {
    Vec3 pts[8];
    corners(boxes[b], pts);
    for (Vec3& p : pts) p = p - kLight * (p.z / kLight.z);
    int rect[4];
    screen_rect(pts, 8, rect);
    Vec3 dl = to_local(boxes[b], kLight);
    for (int py = rect[2]; py < rect[3]; ++py)
      for (int px = rect[0]; px < rect[1]; ++px) {
        size_t i = static_cast<size_t>(py) * W + px;
        if (table_t_[i] < 0.f || shadow_stamp_[i] == frame_number_) continue;
        Vec3 o = to_local(boxes[b], eye_ + rays_[i] * table_t_[i] - boxes[b].c);
        if (ray_box(o, dl, boxes[b].h).t == std::numeric_limits<float>::infinity()) continue;
        shadow_stamp_[i] = frame_number_;
        uint8_t* p = &frame_.rgb[i * 3];
        for (int k = 0; k < 3; ++k) p[k] = static_cast<uint8_t>(p[k] * 0.58f);
      }
  }
  // The boxes themselves, depth-tested: Lambert shading, darker edges, shadows from the other boxes.
  for (int b = 0; b < count; ++b) {
    const Box& box = boxes[b];
    Vec3 pts[8];
    corners(box, pts);
    int rect[4];
    screen_rect(pts, 8, rect);
    Vec3 o = to_local(box, eye_ - box.c);
    for (int py = rect[2]; py < rect[3]; ++py)
      for (int px = rect[0]; px < rect[1]; ++px) {
        size_t i = static_cast<size_t>(py) * W + px;
        Vec3 d = to_local(box, rays_[i]);
        BoxHit hit = ray_box(o, d, box.h);
        if (!(hit.t < depth_[i])) continue;
        depth_[i] = hit.t;
        Vec3 normal = box.a[hit.axis] * hit.sign;
        float light = std::max(0.f, dot(normal, kLight));
        if (light > 0.f && in_shadow(eye_ + rays_[i] * hit.t, b)) light = 0.f;
        Vec3 local = o + d * hit.t;
        int u = (hit.axis + 1) % 3, v = (hit.axis + 2) % 3;
        float edge = std::min(comp(box.h, u) - std::abs(comp(local, u)), comp(box.h, v) - std::abs(comp(local, v)));
        Vec3 c = box.colour * ((0.38f + 0.62f * light) * (edge < 0.003f ? 0.78f : 1.f));
        uint8_t* p = &frame_.rgb[i * 3];
        p[0] = to_byte(c.x), p[1] = to_byte(c.y), p[2] = to_byte(c.z);
      }
  }
}

}  // namespace wl
