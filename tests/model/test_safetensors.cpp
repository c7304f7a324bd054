// safetensors: every corruption class is refused with a message naming the file and the tensor;
// valid files round-trip through the writer for every dtype; loads are zero-copy and keep the map
// alive; a failed write leaves the previous file untouched.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "kernels/core/error.h"
#include "model/safetensors.h"
#include "model/tensor_io.h"
#include "tests/model/crafted_safetensors.h"
#include "tests/support/temp_dir.h"

namespace wl {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}
std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Safetensors, ParsesValidHeader) {
  std::string bytes = test::safetensors_bytes(test::valid_header(), test::valid_data());
  auto header = parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem");
  ASSERT_EQ(header.tensors.size(), 2u);
  EXPECT_EQ(header.tensors[0].name, "a");
  EXPECT_EQ(header.tensors[1].shape, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(header.metadata.at("format"), "pt");
  EXPECT_EQ(header.data_size, 11u);
}

class CorruptFile : public ::testing::TestWithParam<test::CraftedFile> {};

TEST_P(CorruptFile, IsRefusedWithAClearMessage) {
  const auto& c = GetParam();
  TempDir dir;
  std::string path = dir.file(c.name + ".safetensors");
  write_bytes(path, c.bytes);
  try {
    SafetensorsFile::open(path);
    FAIL() << c.name << ": accepted";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_EQ(m.rfind(path + ": ", 0), 0u) << "message must start with the file: " << m;
    EXPECT_NE(m.find(c.expect), std::string::npos) << "expected \"" << c.expect << "\" in: " << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << "one line: " << m;
  }
}

INSTANTIATE_TEST_SUITE_P(Classes, CorruptFile, ::testing::ValuesIn(test::corrupt_files()),
                         [](const auto& info) { return info.param.name; });

TEST(Safetensors, ErrorsNameTheTensor) {
  std::string bytes = test::safetensors_bytes(R"({"blocks.3.w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", "");
  try {
    parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "ckpt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'blocks.3.w'"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, EmptyFileIsRefused) {
  TempDir dir;
  write_bytes(dir.file("empty.safetensors"), "");
  EXPECT_THROW(SafetensorsFile::open(dir.file("empty.safetensors")), Error);
  EXPECT_THROW(SafetensorsFile::open(dir.file("missing.safetensors")), Error);
}

TEST(Safetensors, RoundTripsEveryDtypeZeroCopy) {
  TempDir dir;
  std::string path = dir.file("all.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"f64", at::randn({3, 2}, at::kDouble)},
      {"f32", at::randn({4, 5})},
      {"f16", at::randn({7}).to(at::kHalf)},
      {"bf16", at::randn({2, 3, 1}).to(at::kBFloat16)},
      {"f8e4m3", at::randn({5}).to(at::kFloat8_e4m3fn)},
      {"f8e5m2", at::randn({5}).to(at::kFloat8_e5m2)},
      {"i64", at::arange(6, at::kLong)},
      {"i32", at::arange(3, at::kInt)},
      {"i16", at::arange(5, at::kShort)},
      {"i8", at::arange(-3, 4, at::kChar)},
      {"u8", at::arange(9, at::kByte)},
      {"bool", at::arange(4) % 2 == 0},
      {"empty", at::zeros({0, 4})},
      {"strided", at::randn({4, 6}).t()},
  };
  save_tensors(path, tensors, {{"format", "pt"}, {"model", "test"}});
  SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata().at("model"), "test");
  EXPECT_EQ(file.header().data_start % 8, 0u);
  ASSERT_EQ(file.tensors().size(), tensors.size());
  for (const auto& [name, want] : tensors) {
    at::Tensor got = load_tensor(file, name);
    EXPECT_EQ(got.scalar_type(), want.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), want.sizes()) << name;
    EXPECT_TRUE(at::equal(got.view(at::kByte), want.contiguous().view(at::kByte))) << name;
    if (got.numel() > 0) {
      EXPECT_EQ(got.data_ptr(), file.data(file.entry(name))) << name << " was copied";
    }
  }
}

TEST(Safetensors, TensorKeepsTheMapAlive) {
  TempDir dir;
  std::string path = dir.file("keep.safetensors");
  at::Tensor want = at::arange(1000, at::kFloat);
  save_tensors(path, {{"x", want}});
  at::Tensor got;
  {
    SafetensorsFile file = SafetensorsFile::open(path);
    got = load_tensor(file, "x");
  }   // the file object is gone; the tensor still reads the map
  EXPECT_TRUE(at::equal(got, want));
  got.add_(1);   // private map: writing is allowed and never reaches the file
  EXPECT_TRUE(at::equal(load_tensor(SafetensorsFile::open(path), "x"), want));
}

TEST(Safetensors, MisalignedTensorIsCopied) {
  // A one-byte tensor first puts the F32 tensor at an odd offset (other writers may do this).
  TempDir dir;
  std::string header = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  float v = 3.5f;
  std::string data = std::string(1, '\x07') + std::string(reinterpret_cast<const char*>(&v), 4);
  write_bytes(dir.file("odd.safetensors"), test::safetensors_bytes(header, data));
  SafetensorsFile file = SafetensorsFile::open(dir.file("odd.safetensors"));
  EXPECT_EQ(load_tensor(file, "b").item<float>(), 3.5f);
  EXPECT_EQ(load_tensor(file, "a").item<uint8_t>(), 7);
}

TEST(Safetensors, MissingTensorNamesFileAndTensor) {
  TempDir dir;
  save_tensors(dir.file("m.safetensors"), {{"x", at::ones({1})}});
  SafetensorsFile file = SafetensorsFile::open(dir.file("m.safetensors"));
  try {
    file.entry("y");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no tensor named 'y'"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, FailedWriteKeepsThePreviousFile) {
  TempDir dir;
  std::string path = dir.file("keep.safetensors");
  save_tensors(path, {{"x", at::ones({4})}});
  std::string before = read_bytes(path);
  EXPECT_THROW(save_tensors(path, {{"x", at::ones({2})}, {"x", at::ones({3})}}), Error);   // duplicate
  EXPECT_THROW(save_tensors(path, {{"c", at::ones({2}, at::kComplexFloat)}}), Error);      // no such dtype
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_THROW(save_tensors(dir.file("no/such/dir/x.safetensors"), {{"x", at::ones({1})}}), Error);
  for (const auto& entry : fs::directory_iterator(dir.path))
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << "left behind " << entry.path();
}

// Every error class above has a seed in the fuzz corpus (tests/fuzz/corpus/<class>.safetensors).
// WL_WRITE_FUZZ_CORPUS=DIR writes them instead (run once when a class is added).
TEST(Safetensors, FuzzCorpusHoldsOneSeedPerErrorClass) {
  const char* write_dir = std::getenv("WL_WRITE_FUZZ_CORPUS");
  std::string corpus = std::string(WL_TESTS_DIR) + "/fuzz/corpus";
  if (write_dir) {
    corpus = write_dir;
    fs::create_directories(corpus);
    write_bytes(corpus + "/valid.safetensors", test::safetensors_bytes(test::valid_header(), test::valid_data()));
  }
  for (const auto& c : test::corrupt_files()) {
    std::string path = corpus + "/" + c.name + ".safetensors";
    if (write_dir) write_bytes(path, c.bytes);
    EXPECT_TRUE(fs::exists(path)) << "no fuzz seed for error class " << c.name << " at " << path;
    if (fs::exists(path)) {
      EXPECT_EQ(read_bytes(path), c.bytes) << "seed " << path << " differs from the crafted case";
    }
  }
}

}  // namespace
}  // namespace wl
