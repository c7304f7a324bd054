// Tests of sim/parquet.h, our native Parquet writer: the RLE/bit-packed hybrid against hand-worked
// bytes, refusals of malformed input, same input -> same bytes, and round trips through pyarrow
// (tests/reference/check_parquet.py) of every column kind (lists of varying length, empty ones
// included), several row groups and a file of 300,000 rows. The pyarrow tests skip loudly when
// the reference venv cannot be made (PyPI unreachable).
#include "sim/parquet.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "kernels/core/error.h"
#include "tests/sim/reference_python.h"
#include "tests/support/temp_dir.h"

namespace wl {
namespace {

using Json = nlohmann::json;

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string hybrid(std::vector<uint32_t> v, int bits) { return rle_bitpacked_hybrid(v, bits); }

TEST(ParquetRle, RunsOfEightOrMoreAreRle) {
  // 20 ones: header 20 << 1 = 40, then the value in one byte.
  EXPECT_EQ(hybrid(std::vector<uint32_t>(20, 1), 1), std::string("\x28\x01", 2));
  // 200 zeros: header 400 as a ULEB128 varint (0x90 0x03).
  EXPECT_EQ(hybrid(std::vector<uint32_t>(200, 0), 1), std::string("\x90\x03\x00", 3));
}

TEST(ParquetRle, ShortRunsAreBitPackedLsbFirst) {
  // A list of 3 per row for 3 rows: repetition levels 0 1 1 0 1 1 0 1 1 (9 values, 2 groups, padded).
  std::string got = hybrid({0, 1, 1, 0, 1, 1, 0, 1, 1}, 1);
  EXPECT_EQ(got, std::string("\x05\xb6\x01", 3));   // header (2 << 1) | 1; bits 0b10110110, 0b00000001
  // Two bits per value: 1 2 3 -> 0b00111001 (values 1, 2, 3 at bit offsets 0, 2, 4).
  EXPECT_EQ(hybrid({1, 2, 3}, 2), std::string("\x03\x39\x00", 3));
}

TEST(ParquetRle, MixedRunsSplitAtGroupBoundaries) {
  // 3 distinct values then 16 equal ones: one bit-packed group of 8 (3 + 5 of the run), then an RLE
  // run of the remaining 11.
  std::vector<uint32_t> v = {0, 1, 0};
  v.insert(v.end(), 16, 1);
  EXPECT_EQ(hybrid(v, 1), std::string("\x03\xfa\x16\x01", 4));
}

TEST(ParquetWriter, RefusesMalformedInput) {
  test::TempDir dir("parquet");
  EXPECT_THROW(ParquetWriter(dir.file("a.parquet"), {}), Error);
  EXPECT_THROW(ParquetWriter(dir.file("a.parquet"), {{"x", ParquetType::Int64}, {"x", ParquetType::Float}}), Error);
  EXPECT_THROW(ParquetWriter((dir.path / "no" / "such" / "a.parquet").string(), {{"x", ParquetType::Int64}}), Error);
  ParquetWriter w(dir.file("b.parquet"), {{"i", ParquetType::Int64}, {"l", ParquetType::FloatList}});
  std::vector<ParquetColumnData> one = {ParquetColumnData::int64s({1})};
  EXPECT_THROW(w.write_row_group(one), Error);   // a column short
  std::vector<ParquetColumnData> rows = {ParquetColumnData::int64s({1, 2}), ParquetColumnData::float_lists({{1.f}})};
  EXPECT_THROW(w.write_row_group(rows), Error);  // 2 rows vs 1
  ParquetColumnData bad_sum = ParquetColumnData::float_lists({{1.f}, {2.f}});
  bad_sum.list_sizes[1] = 3;
  std::vector<ParquetColumnData> sums = {ParquetColumnData::int64s({1, 2}), bad_sum};
  EXPECT_THROW(w.write_row_group(sums), Error);
  std::vector<ParquetColumnData> kinds = {ParquetColumnData::floats({1.f, 2.f}), ParquetColumnData::float_lists({{}, {}})};
  EXPECT_THROW(w.write_row_group(kinds), Error);
  EXPECT_THROW(w.close(), Error);                // no row group
}

// Writes `groups` row groups of every column kind and returns what check_parquet.py expects.
Json write_sample(const std::string& path, int groups, int rows_per_group) {
  ParquetWriter w(path, {{"index", ParquetType::Int64},
                         {"observation.state", ParquetType::FloatList},
                         {"timestamp", ParquetType::Float},
                         {"reward", ParquetType::Double},
                         {"action", ParquetType::FloatList}},
                  "worldloop test");
  Json cols = Json::array();
  for (const char* name : {"index", "observation.state", "timestamp", "reward", "action"}) cols.push_back({{"name", name}});
  cols[0]["type"] = "int64", cols[1]["type"] = "list<float>", cols[2]["type"] = "float", cols[3]["type"] = "double";
  cols[4]["type"] = "list<float>";
  for (auto& c : cols) c["values"] = Json::array();
  int64_t row = 0;
  for (int g = 0; g < groups; ++g) {
    std::vector<int64_t> index;
    std::vector<float> timestamp;
    std::vector<double> reward;
    std::vector<std::vector<float>> state, action;
    for (int r = 0; r < rows_per_group; ++r, ++row) {
      index.push_back(row * 1000003 - 5);
      timestamp.push_back(static_cast<float>(row) / 20.f);
      reward.push_back(row % 3 == 0 ? -1.0 / 3.0 : 1e300);
      state.push_back({static_cast<float>(row), -0.5f, 1e-30f, 3.25f, -7.f, 0.f, 1.f});   // fixed width 7
      std::vector<float> a;   // lengths 0..10: empty lists, short and long runs of levels
      for (int k = 0; k < row % 11; ++k) a.push_back(static_cast<float>(k) * 0.1f - static_cast<float>(row));
      action.push_back(a);
    }
    for (auto v : index) cols[0]["values"].push_back(v);
    for (auto& v : state) cols[1]["values"].push_back(v);
    for (auto v : timestamp) cols[2]["values"].push_back(v);
    for (auto v : reward) cols[3]["values"].push_back(v);
    for (auto& v : action) cols[4]["values"].push_back(v);
    std::vector<ParquetColumnData> data = {ParquetColumnData::int64s(index), ParquetColumnData::float_lists(state),
                                           ParquetColumnData::floats(timestamp), ParquetColumnData::doubles(reward),
                                           ParquetColumnData::float_lists(action)};
    w.write_row_group(data);
  }
  w.close({{"worldloop", "test"}});
  EXPECT_EQ(w.rows(), row);
  return {{"num_rows", row}, {"num_row_groups", groups}, {"columns", cols}};
}

TEST(ParquetWriter, SameInputSameBytes) {
  test::TempDir dir("parquet");
  write_sample(dir.file("a.parquet"), 2, 50);
  write_sample(dir.file("b.parquet"), 2, 50);
  std::string a = bytes_of(dir.file("a.parquet"));
  EXPECT_EQ(a, bytes_of(dir.file("b.parquet")));
  ASSERT_GT(a.size(), 8u);
  EXPECT_EQ(a.substr(0, 4), "PAR1");
  EXPECT_EQ(a.substr(a.size() - 4), "PAR1");
}

void check_with_pyarrow(const std::string& python, const std::string& file, const Json& expected) {
  std::string expected_path = file + ".expected.json";
  std::ofstream(expected_path) << expected.dump();
  test::CommandResult r =
      test::run_command("'" + python + "' '" WL_TESTS_DIR "/reference/check_parquet.py' '" + file + "' '" + expected_path + "'");
  EXPECT_EQ(r.code, 0) << r.output;
}

TEST(ParquetWriter, RoundTripsThroughPyarrow) {
  WL_REQUIRE_REFERENCE_PYTHON(python);
  test::TempDir dir("parquet");
  check_with_pyarrow(python, dir.file("one.parquet"), write_sample(dir.file("one.parquet"), 1, 1));
  check_with_pyarrow(python, dir.file("mixed.parquet"), write_sample(dir.file("mixed.parquet"), 3, 37));
}

TEST(ParquetWriter, LargeFileWithManyRowGroups) {
  WL_REQUIRE_REFERENCE_PYTHON(python);
  test::TempDir dir("parquet");
  Json expected = write_sample(dir.file("large.parquet"), 6, 50000);
  EXPECT_GT(std::filesystem::file_size(dir.file("large.parquet")), 20u << 20);
  check_with_pyarrow(python, dir.file("large.parquet"), expected);
}

}  // namespace
}  // namespace wl
