// The ImGui overlay: drawn headless over a known pattern it changes pixels only inside the area it
// reports drawing, and hidden it changes none. Settings persist; commands are handed over once.
// The view layout the loop composes with (branch grid, fidelity halves) and the click mapping onto
// it through the letterbox; the grid's outlines drawn only while branching.
// The window half (F1, a validation-clean run) is in test_window.cpp.
#include <gtest/gtest.h>

#include <vector>

#include "render/presenter.h"
#include "tests/render/patterns.h"


namespace wl {
namespace {

PresenterInfo overlay_info(bool visible) {
  PresenterInfo info;
  info.headless = true;
  info.frame_width = 320;
  info.frame_height = 240;
  info.output_width = 320;
  info.output_height = 240;
  info.filter = Filter::Nearest;
  info.validation = validation_layer_installed();
  info.cuda_frames = false;   // the pattern is written on the host
  info.overlay = true;
  info.overlay_info.visible = visible;
  return info;
}

struct Diff {
  int changed = 0;          // pixels that differ from the pattern
  int outside_bounds = 0;   // of those, pixels outside the overlay's reported bounds
};

// Presents the pattern `frames` times (ImGui sizes auto-fitting windows on their first frame).
Diff present_and_diff(Presenter& presenter, int frames) {
  OverlayFrame numbers;
  numbers.stages = {{"denoise block", 12.5f}, {"decode", 3.25f}, {"present", 0.5f}};
  numbers.model_info = "test model";
  for (int i = 0; i < frames; ++i) {
    presenter.overlay()->update(numbers);
    write_pattern(presenter.begin_frame(), 0);
    EXPECT_EQ(presenter.present(), FrameStatus::Presented);
  }
  std::vector<uint8_t> rgba;
  int w = 0, h = 0;
  EXPECT_TRUE(presenter.read_frame(rgba, w, h));
  OverlayBounds b = presenter.overlay()->last_bounds();
  Diff diff;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      Rgba want = pattern_pixel(x, y, 0);
      const uint8_t* p = rgba.data() + (static_cast<size_t>(y) * w + x) * 4;
      if (p[0] == want.r && p[1] == want.g && p[2] == want.b) continue;
      ++diff.changed;
      if (x < b.x0 || x >= b.x1 || y < b.y0 || y >= b.y1) ++diff.outside_bounds;
    }
  }
  return diff;
}

TEST(Overlay, DrawsOnlyWhereItSaysAndNothingWhenHidden) {
  Presenter presenter(overlay_info(true));
  ASSERT_NE(presenter.overlay(), nullptr);
  Diff shown = present_and_diff(presenter, 3);
  OverlayBounds b = presenter.overlay()->last_bounds();
  EXPECT_FALSE(b.empty());
  EXPECT_GT(shown.changed, 1000);
  EXPECT_EQ(shown.outside_bounds, 0);
  EXPECT_LE(b.x0, 10.f);   // the panel sits at the top-left margin
  EXPECT_LE(b.y0, 10.f);

  presenter.overlay()->set_visible(false);
  Diff hidden = present_and_diff(presenter, 1);
  EXPECT_EQ(hidden.changed, 0);
  EXPECT_TRUE(presenter.overlay()->last_bounds().empty());
  EXPECT_EQ(presenter.stats().validation_messages, 0);
}

TEST(Overlay, StartsHiddenWhenAsked) {
  Presenter presenter(overlay_info(false));
  EXPECT_EQ(present_and_diff(presenter, 2).changed, 0);
  EXPECT_EQ(presenter.stats().validation_messages, 0);
}

TEST(Overlay, SettingsPersistAndCommandsAreTakenOnce) {
  Presenter presenter(overlay_info(true));
  Overlay& overlay = *presenter.overlay();
  overlay.settings().denoise_steps = 8;
  present_and_diff(presenter, 1);
  EXPECT_EQ(overlay.settings().denoise_steps, 8);
  OverlayCommands first = overlay.take_commands();
  EXPECT_FALSE(first.reset);
  EXPECT_EQ(first.save_slot, -1);
  EXPECT_EQ(first.load_slot, -1);
}

// The record control: its status comes from the recording's owner and outlives update() (the loop
// refills OverlayFrame every frame without it); while recording the panel grows by the elapsed
// time, drops and target lines, and shrinks back after.
TEST(Overlay, RecordStatusPersistsAndShowsWhileRecording) {
  PresenterInfo info = overlay_info(true);
  info.frame_width = info.output_width = 1200;   // the action HUD far right of the panel,
  info.frame_height = info.output_height = 900;  // and room for the whole panel below
  Presenter presenter(info);
  Overlay& overlay = *presenter.overlay();
  // The panel's height: the lowest output row it changed in a strip of its left columns.
  auto panel_height = [&] {
    for (int i = 0; i < 2; ++i) {   // ImGui sizes auto-fitting windows on their first frame
      overlay.update(OverlayFrame{});   // as the loop does every frame, without the record status
      write_pattern(presenter.begin_frame(), 0);
      EXPECT_EQ(presenter.present(), FrameStatus::Presented);
    }
    std::vector<uint8_t> rgba;
    int w = 0, h = 0;
    EXPECT_TRUE(presenter.read_frame(rgba, w, h));
    int lowest = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 20; x < 120 && x < w; ++x) {
        Rgba want = pattern_pixel(x, y, 0);
        const uint8_t* p = rgba.data() + (static_cast<size_t>(y) * w + x) * 4;
        if (p[0] != want.r || p[1] != want.g || p[2] != want.b) lowest = y;
      }
    return static_cast<float>(lowest);
  };
  const float idle = panel_height();
  overlay.set_record_status({.active = true, .seconds = 75.25, .frames = 1505, .dropped = 3, .target = "session_1"});
  const float recording = panel_height();
  EXPECT_TRUE(overlay.record_status().active) << "update() keeps it";
  EXPECT_EQ(overlay.record_status().dropped, 3);
  EXPECT_EQ(overlay.record_status().target, "session_1");
  EXPECT_GT(recording, idle + 10.f) << "the elapsed time, drops and target lines";
  overlay.set_record_status({.note = "wrote session_1: video.mp4 1505 frames (libx264, 3 dropped)"});
  EXPECT_GT(panel_height(), idle) << "the result of the last stop stays under the button";
  overlay.set_record_status({});
  EXPECT_FLOAT_EQ(panel_height(), idle);
  EXPECT_EQ(presenter.stats().validation_messages, 0);
}

// [SECTION] views: the branch grid and the fidelity halves, and clicks mapped onto them

TEST(OverlayViews, GridAndSideBySideLayouts) {
  std::vector<ViewRect> four = view_grid(4, 64, 64);
  ASSERT_EQ(four.size(), 4u);
  EXPECT_EQ(four[0], (ViewRect{0, 0, 32, 32}));
  EXPECT_EQ(four[1], (ViewRect{32, 0, 32, 32}));
  EXPECT_EQ(four[2], (ViewRect{0, 32, 32, 32}));
  EXPECT_EQ(four[3], (ViewRect{32, 32, 32, 32}));
  std::vector<ViewRect> two = view_grid(2, 64, 64);   // one row of two, centred vertically, aspect kept
  EXPECT_EQ(two[0], (ViewRect{0, 16, 32, 32}));
  EXPECT_EQ(two[1], (ViewRect{32, 16, 32, 32}));
  std::vector<ViewRect> five = view_grid(5, 90, 60);  // 3 columns x 2 rows of 30x20, centred
  EXPECT_EQ(five[0], (ViewRect{0, 10, 30, 20}));
  EXPECT_EQ(five[4], (ViewRect{30, 30, 30, 20}));
  EXPECT_TRUE(view_grid(0, 64, 64).empty());
  std::array<ViewRect, 2> halves = side_by_side(64, 64);
  EXPECT_EQ(halves[0], (ViewRect{0, 16, 32, 32}));
  EXPECT_EQ(halves[1], (ViewRect{32, 16, 32, 32}));
}

TEST(OverlayViews, ClickMapsThroughTheLetterbox) {
  // A 64x64 frame in a 1280x720 output: 720x720 at x = 280, 11.25 output pixels per frame pixel.
  std::vector<ViewRect> grid = view_grid(4, 64, 64);
  EXPECT_EQ(view_at(grid, 64, 64, 1280, 720, 290.f, 10.f), 0);
  EXPECT_EQ(view_at(grid, 64, 64, 1280, 720, 280.f + 361.f, 10.f), 1);
  EXPECT_EQ(view_at(grid, 64, 64, 1280, 720, 280.f + 359.f, 10.f), 0);
  EXPECT_EQ(view_at(grid, 64, 64, 1280, 720, 990.f, 700.f), 3);
  EXPECT_EQ(view_at(grid, 64, 64, 1280, 720, 100.f, 100.f), -1) << "the bars are no branch";
  EXPECT_EQ(view_at(view_grid(2, 64, 64), 64, 64, 1280, 720, 290.f, 10.f), -1) << "above a one-row grid";
}

TEST(OverlayViews, OutlinesTheBranchCellsOnlyWhileBranching) {
  PresenterInfo info = overlay_info(true);
  info.output_width = 640;   // frame 320x240 at 2x: cell 1 is output x 320..639, y 0..239
  info.output_height = 480;
  Presenter presenter(info);
  auto top_edge = [&](int branches) {
    OverlayFrame f;
    f.frame_width = 320;
    f.frame_height = 240;
    f.branches = branches;
    for (int i = 0; i < 3; ++i) {
      presenter.overlay()->update(f);
      write_pattern(presenter.begin_frame(), 0);
      EXPECT_EQ(presenter.present(), FrameStatus::Presented);
    }
    std::vector<uint8_t> rgba;
    int w = 0, h = 0;
    EXPECT_TRUE(presenter.read_frame(rgba, w, h));
    return std::vector<uint8_t>(rgba.begin() + 400 * 4, rgba.begin() + 600 * 4);   // row 0, x 400..599
  };
  std::vector<uint8_t> plain = top_edge(0), grid = top_edge(4);
  EXPECT_NE(plain, grid) << "cell 2's outline runs along the top edge";
  EXPECT_EQ(plain, top_edge(0)) << "and goes when branching ends";
  EXPECT_EQ(presenter.stats().validation_messages, 0);
}

TEST(Overlay, AbsentUnlessAsked) {
  PresenterInfo info = overlay_info(true);
  info.overlay = false;
  Presenter presenter(info);
  EXPECT_EQ(presenter.overlay(), nullptr);
}


}  // namespace
}  // namespace wl
