// The scripted policies (see policies.h). Each reads the concrete world's state (player, ego car,
// blocks and gripper), keeps a little state of its own (a goal, a phase, timers) and draws its
// choices from an Rng seeded by reset(seed), so the actions are a function of the seed and the world.
#include "envs/policies.h"

#include <algorithm>
#include <cmath>

#include "envs/driving_world.h"
#include "envs/robot_world.h"
#include "envs/voxel_world.h"
#include "envs/vpt_actions.h"
#include "kernels/core/error.h"

namespace wl {
namespace {

constexpr float kDegPerRad = 57.29578f;

template <typename W>
const W& world_as(const World& world, const char* policy, const char* expected) {
  const W* w = dynamic_cast<const W*>(&world);
  WL_CHECK(w, "policy '", policy, "' plays the ", expected, " world, got a '", world.action_spec().world,
           "' world; hint: make_policy(name, world) with the world's own name");
  return *w;
}

// [SECTION] sticky_random: any world

class StickyRandomPolicy : public Policy {
 public:
  explicit StickyRandomPolicy(ActionSpec spec) : spec_(std::move(spec)), stream_(spec_, 0) {}
  void reset(uint64_t seed) override { stream_ = StickyRandomActions(spec_, seed); }
  std::vector<float> next(const World& world) override {
    WL_CHECK(world.action_spec().world == spec_.world, "policy 'sticky_random' was made for the ", spec_.world,
             " world, got a '", world.action_spec().world, "' world");
    return stream_.next();
  }

 private:
  ActionSpec spec_;
  StickyRandomActions stream_;
};

// [SECTION] explore: the voxel world

class ExplorePolicy : public Policy {
 public:
  void reset(uint64_t seed) override {
    rng_ = Rng(seed ^ 0xE3910E);
    tick_ = 0, retarget_ = 0, build_at_ = 150 + rng_.below(150), build_tick_ = -1;
    target_yaw_ = target_pitch_ = 0.f;
    have_target_ = false;
    sprint_ = false;
  }

  std::vector<float> next(const World& world) override {
    const VoxelWorld& w = world_as<VoxelWorld>(world, "explore", "voxel");
    const VoxelPlayer& p = w.player();
    const VoxelGrid& g = w.grid();
    if (!have_target_) target_yaw_ = p.yaw_deg, have_target_ = true, anchor_ = p.position;
    VptAction a;
    ++tick_;
    auto solid = [&](int x, int y, int z) { return !g.inside(x, y, z) || is_solid(g.at(x, y, z)); };
    int px = static_cast<int>(std::floor(p.position.x)), pz = static_cast<int>(std::floor(p.position.z));
    int py = static_cast<int>(std::floor(p.position.y + 0.01f));
    bool in_water = g.at(px, static_cast<int>(std::floor(p.position.y + 0.4f)), pz) == Block::Water;
    if (build_tick_ < 0 && tick_ >= build_at_ && p.on_ground && !in_water) build_tick_ = 0;
    if (build_tick_ >= 0) {
      // Build: stop, look down at the ground ahead, place two blocks of one kind, break one of them.
      int s = build_tick_++;
      target_pitch_ = 45.f;
      if (s == 8) a.buttons[kHotbar1 + rng_.below(9)] = true;
      if (s == 10 || s == 16) a.buttons[kUse] = true;
      if (s >= 22 && s < 32) a.buttons[kAttack] = true;
      if (s >= 34) build_tick_ = -1, build_at_ = tick_ + 200 + rng_.below(250), target_pitch_ = 5.f;
    } else {
      // Walk: a new heading now and then, back towards the middle near the world's edge.
      if (--retarget_ <= 0) {
        target_yaw_ = p.yaw_deg + rng_.uniform(-120.f, 120.f);
        target_pitch_ = rng_.uniform(-15.f, 30.f);
        sprint_ = rng_.uniform() < 0.3f;
        retarget_ = 40 + rng_.below(80);
      }
      float cx = 0.5f * g.size_x - p.position.x, cz = 0.5f * g.size_z - p.position.z;
      if (std::max(std::abs(cx), std::abs(cz)) > 0.5f * g.size_x - 12.f) target_yaw_ = std::atan2(cx, cz) * kDegPerRad;
      float yaw = p.yaw_deg / kDegPerRad;
      int fx = static_cast<int>(std::floor(p.position.x + 0.8f * std::sin(yaw)));
      int fz = static_cast<int>(std::floor(p.position.z + 0.8f * std::cos(yaw)));
      bool step_up = solid(fx, py, fz) && !solid(fx, py + 1, fz) && !solid(fx, py + 2, fz);
      bool wall = solid(fx, py + 1, fz);
      bool water_ahead = !in_water && g.at(fx, py - 1, fz) == Block::Water && g.at(fx, py, fz) != Block::Water;
      if ((wall || (water_ahead && rng_.uniform() < 0.1f)) && retarget_ > 10) {
        target_yaw_ = p.yaw_deg + (rng_.uniform() < 0.5f ? -1.f : 1.f) * rng_.uniform(70.f, 150.f);
        retarget_ = 30 + rng_.below(40);
      }
      // Stuck (a pit, a tree): turn right round.
      if (tick_ % 30 == 0) {
        Vec3 moved = p.position - anchor_;
        if (moved.x * moved.x + moved.z * moved.z < 0.5f) target_yaw_ = p.yaw_deg + 180.f + rng_.uniform(-40.f, 40.f);
        anchor_ = p.position;
      }
      a.buttons[kForward] = true;
      a.buttons[kSprint] = sprint_;
      a.buttons[kJump] = step_up || in_water;
    }
    auto turn = [](float delta) { return std::abs(delta) < 0.3f ? 0.0 : static_cast<double>(std::clamp(delta, -10.f, 10.f)); };
    a.camera_yaw_deg = turn(std::remainder(target_yaw_ - p.yaw_deg, 360.f));
    a.camera_pitch_deg = turn(target_pitch_ - p.pitch_deg);
    return vpt_to_vector(a);
  }

 private:
  Rng rng_;
  int tick_ = 0, retarget_ = 0, build_at_ = 0, build_tick_ = -1;
  float target_yaw_ = 0.f, target_pitch_ = 0.f;
  bool have_target_ = false, sprint_ = false;
  Vec3 anchor_;  // where the player was at the last stuck check
};

// [SECTION] lane_keep: the driving world

class LaneKeepPolicy : public Policy {
 public:
  void reset(uint64_t seed) override {
    rng_ = Rng(seed ^ 0x1A9E);
    lane_ = -1;
    target_speed_ = rng_.uniform(14.f, 26.f);
    change_in_ = 100 + rng_.below(200);
  }

  std::vector<float> next(const World& world) override {
    const DrivingWorld& w = world_as<DrivingWorld>(world, "lane_keep", "driving");
    const CarState& e = w.ego();
    constexpr float L = DrivingWorld::kLaneWidth;
    if (lane_ < 0) lane_ = std::clamp(static_cast<int>(std::lround(e.d / L)) + 1, 0, 2);
    auto lane_clear = [&](int lane) {
      for (const CarState& car : w.traffic())
        if (std::abs(car.d - (lane - 1) * L) < 1.f && car.s - e.s > -12.f && car.s - e.s < 30.f) return false;
      return true;
    };
    if (--change_in_ <= 0) {
      // Half the time a lane change (if that lane is clear), otherwise a new cruising speed.
      if (rng_.uniform() < 0.5f) {
        int lane = lane_ == 1 ? (rng_.uniform() < 0.5f ? 0 : 2) : 1;
        if (lane_clear(lane)) lane_ = lane;
        else change_in_ = 20;
      } else {
        target_speed_ = rng_.uniform(12.f, 30.f);
      }
      if (change_in_ <= 0) change_in_ = 150 + rng_.below(250);
    }
    // Speed: the cruising speed, less in bends ahead (lateral acceleration under 3.5 m/s^2) and
    // behind a slower car in the lane.
    float v_des = target_speed_;
    float k_max = 0.f;
    for (int i = 0; i <= 6; ++i) k_max = std::max(k_max, std::abs(w.curvature(e.s + 10.f * i)));
    if (k_max > 1e-4f) v_des = std::min(v_des, std::sqrt(3.5f / k_max));
    for (const CarState& car : w.traffic()) {
      float gap = car.s - e.s - 4.4f;
      if (std::abs(car.d - e.d) < 2.5f && gap > -2.f && gap < 2.f * e.speed + 10.f)
        v_des = std::min(v_des, car.speed * std::clamp((gap - 4.f) / (1.5f * e.speed + 6.f), 0.f, 1.f));
    }
    float err = v_des - e.speed;
    float throttle = std::clamp(0.4f * err + 0.1f, 0.f, 1.f), brake = err < -0.5f ? std::clamp(-0.3f * err, 0.f, 1.f) : 0.f;
    // Steering: head back to the lane centre over about 1.5 s, reach that heading in about 0.4 s, and
    // add the road's own curvature (feed-forward through the bicycle model).
    float v = std::max(e.speed, 3.f);
    float off = e.d - (lane_ - 1) * L;
    float heading_des = std::clamp(-off / (1.5f * v), -0.1f, 0.1f);
    float kappa = w.curvature(e.s) + (heading_des - e.heading) / (0.4f * v);
    float delta = std::atan(kappa * DrivingWorld::kWheelBase);
    float steer = std::clamp(-delta * (1.f + 0.08f * e.speed) / DrivingWorld::kMaxSteerRad, -1.f, 1.f);
    return {steer, throttle, brake};
  }

 private:
  Rng rng_;
  int lane_ = -1;  // 0 right, 1 middle, 2 left; -1 until the first look at the car
  float target_speed_ = 20.f;
  int change_in_ = 0;  // frames to the next lane or speed change
};

// [SECTION] pick_place: the robot world

class PickPlacePolicy : public Policy {
 public:
  void reset(uint64_t seed) override {
    rng_ = Rng(seed ^ 0x91C4);
    phase_ = Phase::Choose, ticks_ = 0, src_ = dst_ = -1;
  }

  std::vector<float> next(const World& world) override {
    const RobotWorld& w = world_as<RobotWorld>(world, "pick_place", "robot");
    const RobotGripper& g = w.gripper();
    const std::vector<RobotBlock>& blocks = w.blocks();
    ++ticks_;
    if (ticks_ > 160) enter(Phase::Rise);  // something went wrong: start over
    // The height at which the fingertips, or the held block, clear every block.
    float max_top = 0.f;
    for (int i = 0; i < static_cast<int>(blocks.size()); ++i)
      if (i != g.held) max_top = std::max(max_top, blocks[i].centre.z + 0.5f * blocks[i].size);
    float below_tool = g.held >= 0 ? 0.5f * blocks[g.held].size - g.hold_offset.z : 0.f;
    float safe_z = std::clamp(max_top + 0.03f + below_tool, 0.14f, RobotWorld::kWorkspaceMax.z);
    Vec3 here = g.position;
    switch (phase_) {
      case Phase::Choose: {
        choose(w);
        speed_ = rng_.uniform(0.6f, 1.f);
        enter(src_ >= 0 ? Phase::Rise : Phase::Wander);
        wander_ = {rng_.uniform(-0.1f, 0.2f), rng_.uniform(-0.2f, 0.2f), rng_.uniform(0.12f, 0.25f)};
        return servo(g, here, g.yaw, 1.f);
      }
      case Phase::Wander:
        if (ticks_ > 40) enter(Phase::Choose);
        return servo(g, wander_, g.yaw, 1.f);
      case Phase::Rise:
        if (here.z > safe_z - 0.005f) enter(src_ >= 0 ? Phase::Over : Phase::Choose);
        return servo(g, {here.x, here.y, safe_z + 0.01f}, g.yaw, g.held >= 0 ? 0.f : 1.f);
      case Phase::Over: {
        const RobotBlock& b = blocks[src_];
        float yaw = aligned_yaw(g, b);
        Vec3 over{b.centre.x, b.centre.y, safe_z};
        if (near(here, over, 0.003f) && std::abs(std::remainder(yaw - g.yaw, 6.2831853f)) < 0.03f) enter(Phase::Descend);
        return servo(g, over, yaw, 1.f);
      }
      case Phase::Descend: {
        const RobotBlock& b = blocks[src_];
        float bottom = b.centre.z - 0.5f * b.size;
        Vec3 grasp{b.centre.x, b.centre.y, bottom + std::max(b.size - RobotWorld::kFingerLength + 0.006f, 0.004f)};
        if (near(here, grasp, 0.002f) || stalled(here)) enter(Phase::Close);
        return servo(g, grasp, aligned_yaw(g, b), 1.f);
      }
      case Phase::Close:
        if (g.held == src_) enter(Phase::Lift);
        else if (ticks_ > 12) src_ = -1, enter(Phase::Rise);  // missed: choose again from above
        return servo(g, here, g.yaw, 0.f);
      case Phase::Lift:
        if (here.z > safe_z - 0.005f) enter(Phase::Carry);
        return servo(g, {here.x, here.y, safe_z + 0.01f}, g.yaw, 0.f);
      case Phase::Carry: {
        const RobotBlock& b = blocks[dst_];
        Vec3 over{b.centre.x + offset_[0], b.centre.y + offset_[1], safe_z};
        float yaw = aligned_yaw(g, b);
        if (near(here, over, 0.003f) && std::abs(std::remainder(yaw - g.yaw, 6.2831853f)) < 0.03f) enter(Phase::Lower);
        return servo(g, over, yaw, 0.f);
      }
      case Phase::Lower: {
        // Down until the held block is a centimetre above the target's top.
        const RobotBlock& b = blocks[dst_];
        float drop = b.centre.z + 0.5f * b.size + 0.01f;
        Vec3 target{here.x, here.y, drop + below_tool};
        if (near(here, target, 0.002f) || stalled(here)) enter(Phase::Release);
        return servo(g, target, g.yaw, 0.f);
      }
      case Phase::Release:
        if (ticks_ > 8) src_ = -1, enter(Phase::Rise);
        return servo(g, here, g.yaw, 1.f);
    }
    return servo(g, here, g.yaw, 1.f);
  }

 private:
  enum class Phase { Choose, Wander, Rise, Over, Descend, Close, Lift, Carry, Lower, Release };

  void enter(Phase phase) { phase_ = phase, ticks_ = 0, last_ = {1e9f, 0.f, 0.f}; }
  static bool near(Vec3 a, Vec3 b, float tolerance) {
    Vec3 d = a - b;
    return std::abs(d.x) < tolerance && std::abs(d.y) < tolerance && std::abs(d.z) < tolerance;
  }
  // True when the gripper has stopped moving (something is in the way).
  bool stalled(Vec3 here) {
    bool stopped = ticks_ > 3 && near(here, last_, 1e-4f);
    last_ = here;
    return stopped;
  }
  // The gripper yaw nearest its own that squares the fingers with the block's faces.
  static float aligned_yaw(const RobotGripper& g, const RobotBlock& b) {
    return g.yaw + std::remainder(b.yaw - g.yaw, 1.5707963f);
  }

  // A clear block (nothing on it) to move, and another clear block low enough to stack on.
  void choose(const RobotWorld& w) {
    const int n = static_cast<int>(w.blocks().size());
    std::vector<int> clear;
    for (int i = 0; i < n; ++i) {
      bool covered = false;
      for (int j = 0; j < n; ++j) covered = covered || (j != i && w.support_of(j) == i);
      if (!covered) clear.push_back(i);
    }
    src_ = dst_ = -1;
    if (clear.size() < 2) return;
    src_ = clear[rng_.below(static_cast<int>(clear.size()))];
    std::vector<int> targets;
    for (int j : clear) {
      const RobotBlock& b = w.blocks()[j];
      if (j != src_ && b.centre.z + 0.5f * b.size + w.blocks()[src_].size < 0.16f) targets.push_back(j);
    }
    if (targets.empty()) {
      src_ = -1;
      return;
    }
    dst_ = targets[rng_.below(static_cast<int>(targets.size()))];
    float slack = 0.3f * std::min(w.blocks()[src_].size, w.blocks()[dst_].size);  // imperfect, still stable stacks
    offset_[0] = rng_.uniform(-slack, slack), offset_[1] = rng_.uniform(-slack, slack);
  }

  // The action that moves the tool point towards `target` and the yaw towards `yaw` (tilt back to
  // level), at this pick's speed, with the gripper command `open`.
  std::vector<float> servo(const RobotGripper& g, Vec3 target, float yaw, float open) const {
    std::array<Vec3, 3> r = gripper_axes(g);
    Vec3 delta = (target - g.position) * (1.f / RobotWorld::kMaxStep);
    std::vector<float> a(kRobotActionDims, 0.f);
    for (int k = 0; k < 3; ++k) a[k] = std::clamp(dot(delta, r[k]), -speed_, speed_);
    a[kRobotDroll] = std::clamp(-g.roll / RobotWorld::kMaxTurn, -1.f, 1.f);
    a[kRobotDpitch] = std::clamp(-g.pitch / RobotWorld::kMaxTurn, -1.f, 1.f);
    a[kRobotDyaw] = std::clamp(std::remainder(yaw - g.yaw, 6.2831853f) / RobotWorld::kMaxTurn, -speed_, speed_);
    a[kRobotGripper] = open;
    return a;
  }

  Rng rng_;
  Phase phase_ = Phase::Choose;
  int ticks_ = 0;            // frames in this phase
  int src_ = -1, dst_ = -1;  // the block being moved and the one it goes on
  float offset_[2] = {};     // where on the target it goes, from the target's centre
  float speed_ = 1.f;        // the largest action this pick uses
  Vec3 wander_;              // where to hover when there is nothing to stack
  Vec3 last_;                // the tool point one frame ago (stall detection)
};

const char* scripted_policy(const std::string& world) {
  if (world == "voxel") return "explore";
  if (world == "driving") return "lane_keep";
  if (world == "robot") return "pick_place";
  return nullptr;
}

}  // namespace

std::vector<std::string> policy_names(const std::string& world) {
  const char* scripted = scripted_policy(world);
  WL_CHECK(scripted, "unknown world '", world, "'; hint: the worlds are voxel, driving and robot");
  return {scripted, "sticky_random"};
}

std::unique_ptr<Policy> make_policy(const std::string& name, const std::string& world) {
  std::vector<std::string> names = policy_names(world);
  std::unique_ptr<Policy> policy;
  if (name == "sticky_random") policy = std::make_unique<StickyRandomPolicy>(action_spec_for(world));
  else if (name == names[0] && world == "voxel") policy = std::make_unique<ExplorePolicy>();
  else if (name == names[0] && world == "driving") policy = std::make_unique<LaneKeepPolicy>();
  else if (name == names[0] && world == "robot") policy = std::make_unique<PickPlacePolicy>();
  WL_CHECK(policy, "unknown policy '", name, "' for the ", world, " world; hint: its policies are ", names[0], " and ",
           names[1]);
  policy->reset(0);
  return policy;
}

}  // namespace wl
