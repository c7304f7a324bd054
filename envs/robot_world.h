// RobotWorld: a table top seen from a fixed head camera, with 3-5 coloured cubes and a two-finger
// gripper driven by the robot action space [A = 7] (a delta of the gripper pose in the gripper frame,
// then the gripper opening; see robot_action_spec()). Per step (1/20 s): rotate, then translate axis
// by axis, where a move that would push the gripper or the block it holds into the table or another
// block is dropped (the gripper slides along what it touches); open or close the fingers, grasping a
// block they close around; drop released blocks under gravity onto the table or onto other blocks
// (stacking; no toppling or sliding). Renders [H, W, 3]: a perspective view with a cached background,
// Lambert-shaded boxes and cast shadows. Made by make_world("robot").
#pragma once

#include <array>
#include <vector>

#include "envs/vec3.h"
#include "envs/world.h"

namespace wl {

// Metres, world frame: x forward (away from the camera), y left, z up; the table top is z = 0.
struct RobotBlock {
  Vec3 centre;           // of the cube
  float size = 0.05f;    // edge length
  float yaw = 0.f;       // radians about +z; cubes always stand upright
  float velocity = 0.f;  // vertical, metres per second (falling blocks)
  int colour = 0;        // index into the block colours
};

struct RobotGripper {
  Vec3 position;         // the tool point: centred between the fingertips
  float roll = 0.f, pitch = 0.f, yaw = 0.f;  // radians, R = Rz(yaw) Ry(pitch) Rx(roll); zero points the fingers down
  float gap = 0.f;       // metres between the fingers' inner faces
  int held = -1;         // index of the grasped block, or -1
  Vec3 hold_offset;      // the held block's centre in the gripper frame (its yaw is the gripper's)
};

// The gripper frame's axes in world coordinates (columns of R): x forward, y left, z up.
std::array<Vec3, 3> gripper_axes(const RobotGripper& gripper);

class RobotWorld : public World {
 public:
  static constexpr float kMaxStep = 0.01f;      // metres per frame at action +-1 (0.2 m/s)
  static constexpr float kMaxTurn = 0.08f;      // radians per frame at action +-1
  static constexpr float kMaxTilt = 0.6f;       // |roll|, |pitch| limit, radians
  static constexpr float kMinGap = 0.01f, kMaxGap = 0.09f;  // finger gap at gripper 0 (closed) and 1 (open)
  static constexpr float kGapRate = 0.012f;     // finger travel per frame, metres
  static constexpr float kFingerLength = 0.05f;
  static constexpr Vec3 kWorkspaceMin{-0.22f, -0.3f, 0.f}, kWorkspaceMax{0.3f, 0.3f, 0.3f};  // tool point limits
  static constexpr float kTableMin[2] = {-0.34f, -0.44f}, kTableMax[2] = {0.42f, 0.44f};   // table top x, y
  static constexpr int kMaxBlocks = 5;

  explicit RobotWorld(const WorldConfig& config);
  const ActionSpec& action_spec() const override { return spec_; }
  const Frame& reset(uint64_t seed) override;
  const Frame& step(std::span<const float> action) override;
  const Frame& frame() const override { return frame_; }
  std::unique_ptr<World> clone() const override { return std::make_unique<RobotWorld>(*this); }

  // For tests and scripted policies: the state behind the pixels.
  const std::vector<RobotBlock>& blocks() const { return blocks_; }
  const RobotGripper& gripper() const { return gripper_; }
  // True when any two blocks overlap or one is below the table top (never, by construction).
  bool blocks_interpenetrate() const;
  // The block a resting block `i` stands on, or -1 for the table (or when it is held or falling).
  int support_of(int i) const;

  // The robot's proprioceptive state [kStateDims] (what datasets store as observation.state): the
  // tool point x, y, z in metres, roll, pitch, yaw in radians, the finger gap in metres, and 1 while
  // a block is grasped, else 0. Names in kStateNames.
  static constexpr int kStateDims = 8;
  static constexpr std::array<const char*, kStateDims> kStateNames = {"x", "y", "z", "roll", "pitch", "yaw", "gripper_gap",
                                                                      "holding"};
  std::array<float, kStateDims> proprio_state() const {
    const RobotGripper& g = gripper_;
    return {g.position.x, g.position.y, g.position.z, g.roll, g.pitch, g.yaw, g.gap, g.held >= 0 ? 1.f : 0.f};
  }

 private:
  void turn_and_move(const float* action);
  void open_or_close(float command);
  void fall();
  bool pose_valid(const RobotGripper& g) const;
  void render_background(uint64_t look);
  void render();

  WorldConfig config_;
  ActionSpec spec_;
  std::vector<RobotBlock> blocks_;
  RobotGripper gripper_;
  Vec3 eye_;                         // the head camera
  std::array<Vec3, 3> cam_{};        // right, up, forward
  float focal_ = 0.f;                // pixels
  std::vector<Vec3> rays_;           // [H * W] unit view rays
  std::vector<uint8_t> background_;  // [H, W, 3] the static scene
  std::vector<float> table_t_;       // [H * W] ray distance to the table top, or -1 off the table
  std::vector<float> depth_;         // [H * W] the frame's object depth
  std::vector<uint32_t> shadow_stamp_;  // [H * W] the frame number that last darkened the pixel
  uint32_t frame_number_ = 0;
  Frame frame_;
};

}  // namespace wl
