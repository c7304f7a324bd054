// Input bindings and action logs: default mappings per world, bindings-file overrides and errors,
// driving smoothing limits, and the VPT jsonl round trip with line-numbered errors.
#include <gtest/gtest.h>

#include <sstream>

#include "envs/action_log.h"
#include "envs/bindings.h"
#include "kernels/core/error.h"

namespace wl {
namespace {

constexpr int kW = 26, kA = 4, kS = 22, kD = 7, kSpace = 44, kLShift = 225, kKey3 = 32;

// Expects `fn` to throw a wl::Error whose message contains every string in `parts`.
template <typename Fn>
void expect_error(Fn fn, std::initializer_list<const char*> parts) {
  try {
    fn();
    ADD_FAILURE() << "no wl::Error thrown";
  } catch (const Error& e) {
    for (const char* part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(InputNames, ParseAndPrint) {
  EXPECT_EQ(parse_input_name("W")->code, kW);
  EXPECT_EQ(parse_input_name("a")->code, kA);
  EXPECT_EQ(parse_input_name("3")->code, kKey3);
  EXPECT_EQ(parse_input_name("Space")->code, kSpace);
  EXPECT_EQ(parse_input_name("Key58")->code, 58);
  EXPECT_EQ(parse_input_name("MouseRight")->source, InputId::Source::MouseButton);
  EXPECT_FALSE(parse_input_name("Key9999"));
  EXPECT_FALSE(parse_input_name("Banana"));
  for (const char* name : {"W", "3", "0", "LShift", "MouseLeft", "Key58"})
    EXPECT_EQ(input_name(*parse_input_name(name)), name);
}

TEST(InputMapper, VoxelDefaults) {
  InputMapper mapper(default_bindings("voxel"));
  InputSnapshot in;
  in.keys.set(kW).set(kSpace).set(kKey3);
  in.mouse_buttons = 1;  // left: attack
  in.mouse_dx = 20.f;    // 3 degrees right: bin 8 (edge 2.317 < 3 < 4.358)
  in.mouse_dy = -1.f;    // 0.15 degrees: null bin
  std::vector<float> a = mapper.map(in);
  ASSERT_EQ(a.size(), 22u);
  EXPECT_EQ(a[kForward], 1.f);
  EXPECT_EQ(a[kJump], 1.f);
  EXPECT_EQ(a[kAttack], 1.f);
  EXPECT_EQ(a[kHotbar1 + 2], 1.f);
  EXPECT_EQ(a[kVoxelYawDim], 8.f);
  EXPECT_EQ(a[kVoxelPitchDim], 5.f);
  in.keys.set(kS);  // forward + back cancel
  a = mapper.map(in);
  EXPECT_EQ(a[kForward], 0.f);
  EXPECT_EQ(a[kBack], 0.f);
}

TEST(InputMapper, DrivingSmoothingAndGamepad) {
  InputMapper mapper(default_bindings("driving"));
  InputSnapshot in;
  in.keys.set(kW).set(kD);
  std::vector<float> a = mapper.map(in);
  // One 50 ms frame: steer ramps at 3/s, throttle at 4/s.
  EXPECT_FLOAT_EQ(a[kDrivingSteer], 0.15f);
  EXPECT_FLOAT_EQ(a[kDrivingThrottle], 0.2f);
  for (int i = 0; i < 100; ++i) a = mapper.map(in);
  EXPECT_EQ(a[kDrivingSteer], 1.f);  // saturates, never beyond the spec's range
  EXPECT_EQ(a[kDrivingThrottle], 1.f);
  EXPECT_NO_THROW(driving_action_spec().validate({1, 3, a}));
  in.keys.reset();
  in.gamepad_axes[0] = -1.f;  // full left on the stick
  in.gamepad_axes[4] = 0.56f; // half brake past the 0.12 dead zone
  a = mapper.map(in);
  EXPECT_FLOAT_EQ(a[kDrivingSteer], -1.f);
  EXPECT_FLOAT_EQ(a[kDrivingBrake], 0.5f);
  EXPECT_EQ(a[kDrivingThrottle], 0.f);
}

TEST(InputMapper, RobotKeysAndMouse) {
  InputMapper mapper(default_bindings("robot"));
  InputSnapshot in;
  in.keys.set(kA).set(kLShift);
  in.mouse_dx = 10.f;  // right: negative yaw, half a step at 0.05 per count
  in.mouse_buttons = 1;
  std::vector<float> a = mapper.map(in);
  ASSERT_EQ(a.size(), 7u);
  EXPECT_EQ(a[kRobotDy], 1.f);
  EXPECT_EQ(a[kRobotDz], -1.f);
  EXPECT_FLOAT_EQ(a[kRobotDyaw], -0.5f);
  EXPECT_EQ(a[kRobotGripper], 0.f);
  EXPECT_NO_THROW(robot_action_spec().validate({1, 7, a}));
}

TEST(BindingsFile, OverridesOneWorld) {
  Bindings b = parse_bindings(R"({"voxel": {"controls": {"jump": ["J", "Key44"]}, "tuning": {"look_key_deg": 4}},
                                  "driving": {"controls": {"brake": ["B"]}}})",
                              "test.json", "voxel");
  InputMapper mapper(b);
  InputSnapshot in;
  in.keys.set(parse_input_name("J")->code);
  in.keys.set(82);  // Up arrow: look up by 4 degrees -> bin 2 (edge -4.358 < -4 < -2.317)
  std::vector<float> a = mapper.map(in);
  EXPECT_EQ(a[kJump], 1.f);
  EXPECT_EQ(a[kVoxelPitchDim], 2.f);
}

TEST(BindingsFile, MalformedFilesGiveOneClearError) {
  expect_error([] { parse_bindings("{\"voxel\": ", "b.json", "voxel"); }, {"b.json", "not valid JSON"});
  expect_error([] { parse_bindings("[1, 2]", "b.json", "voxel"); }, {"b.json", "JSON object"});
  expect_error([] { parse_bindings(R"({"boat": {}})", "b.json", "voxel"); }, {"unknown world section 'boat'"});
  expect_error([] { parse_bindings(R"({"voxel": {"controls": {"fly": ["F"]}}})", "b.json", "voxel"); },
               {"b.json", "unknown control 'fly'", "forward"});
  expect_error([] { parse_bindings(R"({"voxel": {"controls": {"jump": ["Banana"]}}})", "b.json", "voxel"); },
               {"controls.jump", "unknown input \"Banana\"", "hint"});
  expect_error([] { parse_bindings(R"({"voxel": {"controls": {"jump": "Space"}}})", "b.json", "voxel"); },
               {"should be a list"});
  expect_error([] { parse_bindings(R"({"driving": {"tuning": {"steer_axis": 9}}})", "b.json", "driving"); },
               {"tuning.steer_axis = 9", "[0, 5]"});
  expect_error([] { parse_bindings(R"({"robot": {"tuning": {"warp": 1}}})", "b.json", "robot"); },
               {"unknown knob 'warp'"});
  expect_error([] { load_bindings("/nonexistent/b.json", "voxel"); }, {"cannot open bindings file"});
  expect_error([] { default_bindings("boat"); }, {"unknown world 'boat'"});
}

TEST(ActionLog, JsonlRoundTrip) {
  std::vector<VptAction> actions(4);
  actions[0].buttons[kForward] = actions[0].buttons[kAttack] = true;
  actions[0].camera_yaw_deg = vpt_camera_degrees(8);
  actions[1].buttons[kHotbar1 + 3] = actions[1].buttons[kSneak] = actions[1].buttons[kUse] = true;
  actions[1].camera_pitch_deg = -1.5;  // 10 mouse counts up
  actions[2].buttons[kInventory] = actions[2].buttons[kDrop] = actions[2].buttons[kSprint] = true;
  std::stringstream log;
  write_vpt_jsonl(log, actions);
  std::string text = log.str();
  EXPECT_NE(text.find("\"key.keyboard.w\""), std::string::npos);
  EXPECT_NE(text.find("\"hotbar\":3"), std::string::npos);
  std::vector<VptAction> back = read_vpt_jsonl(log, "mem.jsonl");
  ASSERT_EQ(back.size(), actions.size());
  for (size_t i = 0; i < actions.size(); ++i) {
    EXPECT_EQ(back[i].buttons, actions[i].buttons) << "line " << i + 1;
    EXPECT_NEAR(back[i].camera_pitch_deg, actions[i].camera_pitch_deg, 1e-9);
    EXPECT_NEAR(back[i].camera_yaw_deg, actions[i].camera_yaw_deg, 1e-9);
    EXPECT_EQ(vpt_to_vector(back[i]), vpt_to_vector(actions[i]));
  }
}

TEST(ActionLog, ReadsVptRecorderLines) {
  // The shape of a contractor recording line: extra fields and keys VPT does not map are ignored.
  std::stringstream log(
      R"({"mouse":{"x":640,"y":360,"dx":-40,"dy":2,"scaledX":0,"scaledY":0,"dwheel":0,"buttons":[1],"newButtons":[1]},)"
      R"("keyboard":{"keys":["key.keyboard.d","key.keyboard.f","key.keyboard.escape"],"newKeys":[],"chars":""},)"
      R"("isGuiOpen":false,"hotbar":0,"yaw":12.5,"pitch":3.0,"tick":7})"
      "\n\n"
      R"({"mouse":{"dx":0,"dy":0,"buttons":[]},"keyboard":{"keys":[]},"hotbar":6})");
  std::vector<VptAction> actions = read_vpt_jsonl(log, "rec.jsonl");
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_TRUE(actions[0].buttons[kRight]);
  EXPECT_TRUE(actions[0].buttons[kUse]);
  EXPECT_DOUBLE_EQ(actions[0].camera_yaw_deg, -6.0);
  EXPECT_DOUBLE_EQ(actions[0].camera_pitch_deg, 0.3);
  EXPECT_TRUE(actions[1].buttons[kHotbar1 + 6]);  // a hotbar change presses the slot's button
}

TEST(ActionLog, MalformedLinesNameTheLine) {
  auto read = [](const std::string& text) {
    std::stringstream in(text);
    read_vpt_jsonl(in, "bad.jsonl");
  };
  const std::string ok = R"({"mouse":{"dx":0,"dy":0,"buttons":[]},"keyboard":{"keys":[]}})";
  expect_error([&] { read(ok + "\n{not json\n"); }, {"bad.jsonl:2:", "not valid JSON"});
  expect_error([&] { read(ok + "\n" + ok + "\n[1]\n"); }, {"bad.jsonl:3:", "JSON object"});
  expect_error([&] { read(R"({"keyboard":{"keys":[]}})"); }, {"bad.jsonl:1:", "missing field 'mouse'"});
  expect_error([&] { read(R"({"mouse":{"dx":"x","dy":0,"buttons":[]},"keyboard":{"keys":[]}})"); },
               {"'mouse.dx' should be number", "\"x\"", "hint"});
  expect_error([&] { read(R"({"mouse":{"dx":0,"dy":0,"buttons":["left"]},"keyboard":{"keys":[]}})"); },
               {"'mouse.buttons' should hold integers"});
  expect_error([&] { read(R"({"mouse":{"dx":0,"dy":0,"buttons":[]},"keyboard":{"keys":[3]}})"); },
               {"'keyboard.keys' should hold strings"});
  expect_error([&] { read(ok.substr(0, ok.size() - 1) + R"(,"hotbar":12})"); }, {"'hotbar'", "[0, 8]"});
  expect_error([] { read_vpt_jsonl(std::string("/nonexistent/a.jsonl")); }, {"cannot open action log"});
}

}  // namespace
}  // namespace wl
