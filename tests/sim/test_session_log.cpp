// The session record's formats (sim/session_log.h): actions.jsonl, blocks.jsonl and session.json
// lines written and read back equal (floats bit-equal), branching blocks and frames and ground-truth
// epochs included, malformed lines named by file and line, and a session directory that is never
// overwritten.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "envs/action_spec.h"
#include "kernels/core/error.h"
#include "sim/session_log.h"
#include "sim/world_model.h"
#include "tests/support/temp_dir.h"

namespace wl {
namespace {

FrameLine sample_frame(bool with_input) {
  FrameLine f;
  f.frame = 17;
  f.time_s = 0.85000000000000009;
  f.block = 3;
  f.block_frame = 5;
  f.action = {0.1f, 1.f / 3.f, 0.f};   // steer, throttle, brake: not exactly representable in decimal
  f.fnv1a64 = 0xfedcba9876543210ull;
  if (with_input) {
    InputSnapshot in;
    in.time_s = 0.8;
    in.keys.set(26);
    in.keys.set(225);
    in.keys_pressed.set(26);
    in.mouse_dx = -3.25f;
    in.mouse_dy = 0.1f;
    in.mouse_buttons = 5;
    in.wheel = 1.f;
    in.gamepad_axes = {0.5f, -0.3f, 0, 0, 0.2f, 1.f};
    in.gamepad_buttons = 9;
    in.focused = false;
    f.input = in;
  }
  return f;
}

TEST(SessionLog, FrameLinesRoundTrip) {
  const ActionSpec spec = driving_action_spec();
  for (bool with_input : {false, true}) {
    FrameLine f = sample_frame(with_input);
    std::string text = frame_line_json(spec, f);
    EXPECT_NE(text.find("\"steer\":0.1"), std::string::npos) << text;   // named fields, shortest decimals
    FrameLine back = parse_frame_line(spec, text, "test");
    EXPECT_TRUE(back == f) << text;
    EXPECT_EQ(back.action[1], 1.f / 3.f);
  }
}

TEST(SessionLog, BlockLinesRoundTrip) {
  BlockLine b{4, 1, 12, 45, ActionTensor{2, 3, {0.1f, 0.7f, 0.f, -1.f / 3.f, 1.f, 0.25f}}, 42, 123456789012ull, 6,
              "sink+window:4"};
  BlockLine back = parse_block_line(block_line_json(b), "test");
  EXPECT_TRUE(back == b) << block_line_json(b);
  EXPECT_EQ(block_line_json(b).find("rows"), std::string::npos) << "one sequence writes no branch fields";

  // Branching: the K rows the batch saw, their seeds, the row a continue went on from.
  b.rows = {b.actions, ActionTensor{2, 3, {0.6f, 0.7f, 0.f, 0.1f, 1.f, 0.25f}}};
  b.row_seeds = {42, 43};
  b.continued_from = 2;
  back = parse_block_line(block_line_json(b), "test");
  EXPECT_TRUE(back == b) << block_line_json(b);
  back.rows[1].values[4] = 0.5f;
  EXPECT_FALSE(back == b);
}

TEST(SessionLog, BranchFieldsThatDoNotFitAreNamed) {
  BlockLine b{4, 1, 12, 45, ActionTensor{1, 2, {0.1f, 0.7f}}, 42, 0, 4, "global"};
  b.rows = {b.actions, b.actions};
  b.row_seeds = {42, 43, 44};   // three seeds for two rows
  try {
    parse_block_line(block_line_json(b), "blocks.jsonl:7");
    FAIL() << "rows and seeds of different counts were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blocks.jsonl:7: 2 branches in 'rows' but 3 seeds"), std::string::npos) << e.what();
  }
  b.row_seeds = {42, 43};
  b.rows[1] = ActionTensor{1, 3, {0.f, 0.f, 0.f}};
  try {
    parse_block_line(block_line_json(b), "blocks.jsonl:8");
    FAIL() << "a branch of another shape was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blocks.jsonl:8: a branch in 'rows' is [1, 3], 'actions' is [1, 2]"), std::string::npos)
        << e.what();
  }
  const ActionSpec spec = driving_action_spec();
  EXPECT_THROW(parse_frame_line(spec, R"({"frame": 1, "time": 0, "row": -4, "action": {"steer": 0, "throttle": 0, "brake": 0}})",
                                "t"), Error);
}

TEST(SessionLog, ViewAndGroundTruthFieldsRoundTrip) {
  const ActionSpec spec = driving_action_spec();
  FrameLine grid = sample_frame(false);
  grid.row = -1;
  EXPECT_TRUE(parse_frame_line(spec, frame_line_json(spec, grid), "t") == grid) << frame_line_json(spec, grid);
  FrameLine fidelity = sample_frame(false);
  fidelity.side_by_side = true;
  EXPECT_TRUE(parse_frame_line(spec, frame_line_json(spec, fidelity), "t") == fidelity);
  FrameLine simulator = sample_frame(true);   // ground truth: no block
  simulator.block = simulator.block_frame = -1;
  std::string text = frame_line_json(spec, simulator);
  EXPECT_EQ(text.find("block"), std::string::npos) << text;
  EXPECT_TRUE(parse_frame_line(spec, text, "t") == simulator) << text;

  SessionHeader h = make_ground_truth_header("driving", 64, 20.0, 11, "you");
  h.epochs = {{0, "simulator", "preroll.jsonl", 11, 30}, {1, "simulator", "", 12, 0}};
  h.events = {{0, 1.5, "record_start", "", true, "recording into d", 0}, {9, 2.0, "reset", "", true, "reset: seed 12", 1}};
  SessionHeader back = parse_session_json(session_json(h), "session.json");
  EXPECT_TRUE(back == h) << session_json(h);
  EXPECT_EQ(back.kind, "ground_truth");
  EXPECT_THROW(load_model(back.model_source, "cpu"), Error);   // a ground-truth session has no model
}

TEST(SessionLog, SessionJsonRoundTrip) {
  SessionHeader h;
  h.engine = "worldloop 0.1 (commit abc, CPU)";
  h.model_hash = "0123456789abcdef";
  h.model_label = "random weights (tiny)";
  h.model_config = R"({"depth":2,"width":64})";
  h.model_source = {"random_tiny", "", "voxel", 1, 8};
  h.world = "voxel";
  h.width = h.height = 64;
  h.seed = 7;
  h.player = "policy explore";
  h.settings = {{0, 4, 7, 3, "global"}, {12, 2, 9, 3, "window:4"}};
  h.events = {{0, 0.0, "record_start", "", true, "recording into d", 0}, {40, 2.0, "load", "quick", true, "loaded", 1}};
  h.epochs = {{0, "fresh", ""}, {1, "snapshot", "snapshots/epoch_1.wlsnap"}, {2, "simulator_context", "", 7, 0, 8}};
  h.frames = 80;
  h.blocks = 8;
  h.frames_fnv1a64 = 0x1234ull;
  h.complete = true;
  SessionHeader back = parse_session_json(session_json(h), "session.json");
  EXPECT_TRUE(back == h) << session_json(h);
}

TEST(SessionLog, ReadersNameTheFileAndLine) {
  test::TempDir dir("session_log");
  const ActionSpec spec = driving_action_spec();
  {
    std::ofstream out(dir.file("actions.jsonl"));
    out << frame_line_json(spec, sample_frame(false)) << "\n\n" << R"({"frame": 2, "time": 0.1, "action": {"steer": 0.5}})"
        << "\n";
  }
  try {
    read_frame_lines(dir.file("actions.jsonl"), spec);
    FAIL() << "a line without throttle was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("actions.jsonl:3: action field 'throttle'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_block_lines(dir.file("missing.jsonl")), Error);
  EXPECT_THROW(parse_session_json("{\"format\": \"something\"}", "x.json"), Error);
  EXPECT_THROW(parse_frame_line(spec, R"({"frame": 1, "time": 0, "action": {"steer": 3, "throttle": 0, "brake": 0}})", "t"),
               Error);   // out of range
}

TEST(SessionLog, NeverOverwritesASessionDirectory) {
  test::TempDir dir("session_log");
  std::ofstream(dir.file("session.json")) << "precious";
  try {
    claim_new_dir(dir.path.string(), "--record");
    FAIL() << "a non-empty directory was claimed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--record " + dir.path.string() + " already exists"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hint"), std::string::npos);
  }
  std::ifstream in(dir.file("session.json"));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "precious");
  claim_new_dir(dir.file("fresh/nested"), "--record");
  EXPECT_TRUE(std::filesystem::is_directory(dir.file("fresh/nested")));
}

}  // namespace
}  // namespace wl
