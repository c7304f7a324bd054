// ParquetWriter: a small native writer of Apache Parquet files, enough for robot datasets (LeRobot's
// data/chunk-XXX/episode_XXXXXX.parquet) without Arrow: PLAIN-encoded, uncompressed data pages (v1),
// one page per column chunk, any number of row groups, and the footer (FileMetaData) in Thrift's
// compact protocol. Column kinds: required int64, float32 and float64 scalars, and list<float32>
// (the standard 3-level LIST: required group (LIST) { repeated group list { required float
// element } }, repetition and definition levels in the RLE/bit-packed hybrid), so rows may hold
// lists of any length, empty ones included. Same input gives the same bytes.
//   ParquetWriter w("x.parquet", {{"index", ParquetType::Int64}, {"action", ParquetType::FloatList}});
//   w.write_row_group({ParquetColumnData::int64s({0, 1}), ParquetColumnData::float_lists({{1, 2}, {3}})});
//   w.close();   // footer, fsync; throws wl::Error naming the file on any I/O failure
// Callers: sim/synth.cpp (`worldloop synth`), tests/sim/test_parquet.cpp.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace wl {

enum class ParquetType {
  Int64,       // physical INT64
  Float,       // physical FLOAT (float32)
  Double,      // physical DOUBLE (float64)
  FloatList,   // list<float32>, a LIST of FLOAT
};

struct ParquetColumn {
  std::string name;                // top-level field name; dots are allowed ("observation.state")
  ParquetType type = ParquetType::Int64;
};

// One column's values for one row group. Exactly the vector of the column's kind is filled.
struct ParquetColumnData {
  std::vector<int64_t> int64_values;    // Int64: one per row
  std::vector<float> float_values;      // Float: one per row; FloatList: every row's values back to back
  std::vector<double> double_values;    // Double: one per row
  std::vector<int64_t> list_sizes;      // FloatList: values per row (0 = an empty list)

  static ParquetColumnData int64s(std::vector<int64_t> v);
  static ParquetColumnData floats(std::vector<float> v);
  static ParquetColumnData doubles(std::vector<double> v);
  static ParquetColumnData float_lists(const std::vector<std::vector<float>>& rows);
};

class ParquetWriter {
 public:
  // Creates (truncates) `path` and writes the magic. Throws wl::Error for no columns, an empty or
  // duplicate name, or a file that cannot be created.
  ParquetWriter(std::string path, std::vector<ParquetColumn> columns, std::string created_by = "worldloop");
  ~ParquetWriter();   // closes the handle without a footer when close() was not called (an unfinished file)
  ParquetWriter(const ParquetWriter&) = delete;
  ParquetWriter& operator=(const ParquetWriter&) = delete;

  // Appends one row group: `data[i]` holds column i's values, every column the same number of
  // rows (>= 1). Throws wl::Error for a wrong column count, kind, row count or list size sum.
  void write_row_group(std::span<const ParquetColumnData> data);
  // Writes the footer (key/value pairs go into FileMetaData.key_value_metadata), flushes and fsyncs.
  void close(const std::vector<std::pair<std::string, std::string>>& key_value_metadata = {});

  int64_t rows() const { return rows_; }

 private:
  struct ChunkInfo {
    int64_t num_values = 0;     // level entries (values plus empty lists)
    int64_t offset = 0;         // of the page header
    int64_t bytes = 0;          // header + page
  };
  struct RowGroupInfo {
    int64_t rows = 0;
    int64_t offset = 0;
    std::vector<ChunkInfo> chunks;
  };
  void write_bytes(const std::string& bytes);
  std::string footer(const std::vector<std::pair<std::string, std::string>>& key_value_metadata) const;

  std::string path_;
  std::vector<ParquetColumn> columns_;
  std::string created_by_;
  std::FILE* file_ = nullptr;
  int64_t offset_ = 0;
  int64_t rows_ = 0;
  std::vector<RowGroupInfo> row_groups_;
};

// [SECTION] Building blocks, exposed for tests

// The RLE/bit-packed hybrid encoding of `values` (each < 2^bit_width), without a length prefix:
// runs of >= 8 equal values as RLE runs, the rest as bit-packed groups of 8 (the last one padded).
std::string rle_bitpacked_hybrid(std::span<const uint32_t> values, int bit_width);

}  // namespace wl
