// The image writers: checksums against their published check values, a PNG that ImageMagick decodes
// to the same pixels (skipped without `convert`), and a clear error for a bad path.
//
// DocsImages.DISABLED_WriteWorldFrames regenerates docs/worlds/<world>.png (one representative frame
// of each world, 256x256, after 200 steps of its scripted policy from seed 1):
//   build-envs/tests/envs/test_envs --gtest_also_run_disabled_tests --gtest_filter='DocsImages.*'
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "envs/image_io.h"
#include "envs/policies.h"
#include "kernels/core/error.h"

namespace wl {
namespace {

std::span<const uint8_t> bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

Frame test_pattern(int width, int height) {
  Frame f{height, width, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3)};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) f.rgb[(static_cast<size_t>(y) * width + x) * 3 + c] = static_cast<uint8_t>(x * 7 + y * 13 + c * 85);
  return f;
}

TEST(ImageIo, ChecksumsMatchTheirCheckValues) {
  EXPECT_EQ(crc32(bytes("123456789")), 0xCBF43926u);
  EXPECT_EQ(adler32(bytes("Wikipedia")), 0x11E60398u);
  EXPECT_EQ(crc32(bytes("6789"), crc32(bytes("12345"))), 0xCBF43926u);  // chained
  std::string big(100000, '\xff');  // past zlib's 5552-byte modulo interval
  uint32_t a = 1, b = 0;
  for (unsigned char ch : big) a = (a + ch) % 65521, b = (b + a) % 65521;
  EXPECT_EQ(adler32(bytes(big)), b << 16 | a);
}

TEST(ImageIo, PngDecodesToTheSamePixels) {
  if (std::system("command -v convert > /dev/null 2>&1") != 0) GTEST_SKIP() << "ImageMagick's convert is not installed";
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("wl_image_io_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (auto [w, h] : {std::pair{1, 1}, {17, 5}, {200, 150}}) {  // 200x150 spans two stored blocks
    Frame f = test_pattern(w, h);
    std::string png = (dir / "f.png").string(), rgb = (dir / "f.rgb").string();
    write_png(png, f);
    ASSERT_EQ(std::system(("convert " + png + " -depth 8 rgb:" + rgb).c_str()), 0) << "convert rejected " << png;
    std::ifstream in(rgb, std::ios::binary);
    std::vector<uint8_t> decoded((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(decoded, f.rgb) << w << "x" << h;
    write_ppm((dir / "f.ppm").string(), f);
    EXPECT_EQ(std::filesystem::file_size(dir / "f.ppm"), f.rgb.size() + ("P6\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n").size());
  }
  std::filesystem::remove_all(dir);
}

TEST(ImageIo, BadPathOrFrameIsOneClearError) {
  Frame f = test_pattern(4, 4);
  try {
    write_png("/nonexistent-folder/x.png", f);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-folder/x.png"), std::string::npos) << e.what();
  }
  f.rgb.pop_back();
  EXPECT_THROW(encode_png(f), Error);
}

// Disabled: run by hand to refresh the docs images (see the top of this file).
TEST(DocsImages, DISABLED_WriteWorldFrames) {
  std::filesystem::path dir = std::filesystem::path(WL_TESTS_DIR) / ".." / "docs" / "worlds";
  std::filesystem::create_directories(dir);
  for (const std::string& name : world_names()) {
    std::unique_ptr<World> world = make_world(name, {256, 256});
    std::unique_ptr<Policy> policy = make_policy(policy_names(name)[0], name);
    world->reset(1);
    policy->reset(1);
    for (int t = 0; t < 200; ++t) world->step(policy->next(*world));
    std::filesystem::path path = dir / (name + ".png");
    write_png(path.string(), world->frame());
    EXPECT_LT(std::filesystem::file_size(path), 300u * 1024u) << path;
  }
}

}  // namespace
}  // namespace wl
