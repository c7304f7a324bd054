// ParquetWriter (see parquet.h). File layout: "PAR1", then per row group and column one data page
// (Thrift PageHeader + levels + PLAIN values), then FileMetaData in Thrift's compact protocol, its
// length (4 bytes, little-endian) and "PAR1". Field ids and enum values are those of the format's
// parquet.thrift; only the fields this writer needs are emitted. Callers: sim/synth.cpp, tests.
#include "sim/parquet.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <set>

#include "kernels/core/error.h"

namespace wl {
namespace {

// parquet.thrift enums
constexpr int kTypeInt64 = 2, kTypeFloat = 4, kTypeDouble = 5;
constexpr int kRequired = 0, kRepeated = 2;
constexpr int kConvertedList = 3;
constexpr int kEncodingPlain = 0, kEncodingRle = 3;
constexpr int kCodecUncompressed = 0;
constexpr int kPageData = 0;

// [SECTION] Thrift compact protocol (writing only)

// Compact type ids.
constexpr uint8_t kCtI32 = 5, kCtI64 = 6, kCtBinary = 8, kCtList = 9, kCtStruct = 12;

class ThriftWriter {
 public:
  std::string out;

  void varint(uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<char>(v));
  }
  static uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }

  void field(int id, uint8_t type) {
    int delta = id - last_.back();
    if (delta > 0 && delta <= 15) {
      out.push_back(static_cast<char>((delta << 4) | type));
    } else {
      out.push_back(static_cast<char>(type));
      varint(zigzag(id));
    }
    last_.back() = id;
  }
  void i32(int id, int32_t v) {
    field(id, kCtI32);
    varint(zigzag(v));
  }
  void i64(int id, int64_t v) {
    field(id, kCtI64);
    varint(zigzag(v));
  }
  void string(int id, const std::string& s) {
    field(id, kCtBinary);
    raw_string(s);
  }
  void raw_string(const std::string& s) {
    varint(s.size());
    out += s;
  }
  void list(int id, uint8_t element_type, size_t size) {
    field(id, kCtList);
    list_header(element_type, size);
  }
  void list_header(uint8_t element_type, size_t size) {
    if (size < 15) {
      out.push_back(static_cast<char>((size << 4) | element_type));
    } else {
      out.push_back(static_cast<char>(0xf0 | element_type));
      varint(size);
    }
  }
  void begin_struct(int id) {
    field(id, kCtStruct);
    begin_element();
  }
  void begin_element() { last_.push_back(0); }   // a struct inside a list
  void end_struct() {
    out.push_back(0);   // stop
    last_.pop_back();
  }

 private:
  std::vector<int> last_{0};
};

// [SECTION] Column chunk encoding

void put_le32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

template <typename T>
void put_plain(std::string& out, std::span<const T> values) {
  static_assert(std::endian::native == std::endian::little, "PLAIN is little-endian; a big-endian host needs byte swaps");
  out.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
}

// The levels of a v1 data page: their byte length (4 bytes, little-endian), then the hybrid runs.
void put_levels(std::string& out, std::span<const uint32_t> levels) {
  std::string runs = rle_bitpacked_hybrid(levels, 1);
  put_le32(out, static_cast<uint32_t>(runs.size()));
  out += runs;
}

int physical_type(ParquetType t) {
  switch (t) {
    case ParquetType::Int64: return kTypeInt64;
    case ParquetType::Double: return kTypeDouble;
    case ParquetType::Float:
    case ParquetType::FloatList: return kTypeFloat;
  }
  return kTypeInt64;
}

const char* type_name(ParquetType t) {
  switch (t) {
    case ParquetType::Int64: return "int64";
    case ParquetType::Float: return "float32";
    case ParquetType::Double: return "float64";
    case ParquetType::FloatList: return "list<float32>";
  }
  return "?";
}

// Rows in `d` as column kind `t`, or -1 when the wrong vectors are filled.
int64_t rows_of(const ParquetColumnData& d, ParquetType t) {
  const bool i = !d.int64_values.empty(), f = !d.float_values.empty(), g = !d.double_values.empty(), l = !d.list_sizes.empty();
  switch (t) {
    case ParquetType::Int64: return f || g || l ? -1 : static_cast<int64_t>(d.int64_values.size());
    case ParquetType::Float: return i || g || l ? -1 : static_cast<int64_t>(d.float_values.size());
    case ParquetType::Double: return i || f || l ? -1 : static_cast<int64_t>(d.double_values.size());
    case ParquetType::FloatList: return i || g ? -1 : static_cast<int64_t>(d.list_sizes.size());
  }
  return -1;
}

// One data page: its body and the number of level entries (values; lists: values + empty lists).
std::pair<std::string, int64_t> encode_page(const ParquetColumnData& d, ParquetType t) {
  std::string body;
  switch (t) {
    case ParquetType::Int64: put_plain<int64_t>(body, d.int64_values); return {body, static_cast<int64_t>(d.int64_values.size())};
    case ParquetType::Float: put_plain<float>(body, d.float_values); return {body, static_cast<int64_t>(d.float_values.size())};
    case ParquetType::Double: put_plain<double>(body, d.double_values); return {body, static_cast<int64_t>(d.double_values.size())};
    case ParquetType::FloatList: break;
  }
  // A row of n > 0 values: repetition levels 0, 1, ..., 1 (0 starts a new row), definition level 1
  // each (the repeated group is present). An empty row: one entry, repetition 0, definition 0.
  std::vector<uint32_t> rep, def;
  rep.reserve(d.float_values.size() + d.list_sizes.size());
  def.reserve(rep.capacity());
  for (int64_t n : d.list_sizes) {
    if (n == 0) {
      rep.push_back(0);
      def.push_back(0);
      continue;
    }
    for (int64_t k = 0; k < n; ++k) {
      rep.push_back(k == 0 ? 0 : 1);
      def.push_back(1);
    }
  }
  put_levels(body, rep);
  put_levels(body, def);
  put_plain<float>(body, d.float_values);
  return {body, static_cast<int64_t>(rep.size())};
}

std::string page_header(int64_t num_values, size_t page_bytes) {
  ThriftWriter w;
  w.i32(1, kPageData);
  w.i32(2, static_cast<int32_t>(page_bytes));   // uncompressed_page_size
  w.i32(3, static_cast<int32_t>(page_bytes));   // compressed_page_size
  w.begin_struct(5);                            // data_page_header
  w.i32(1, static_cast<int32_t>(num_values));
  w.i32(2, kEncodingPlain);
  w.i32(3, kEncodingRle);   // level encodings: RLE (the hybrid); required scalars have none
  w.i32(4, kEncodingRle);
  w.end_struct();
  w.out.push_back(0);   // end of PageHeader
  return w.out;
}

}  // namespace

// [SECTION] RLE / bit-packed hybrid

std::string rle_bitpacked_hybrid(std::span<const uint32_t> values, int bit_width) {
  WL_CHECK(bit_width >= 1 && bit_width <= 8, "parquet: level bit width ", bit_width, " is out of 1..8 (a bug)");
  ThriftWriter w;   // only for its varint
  const size_t n = values.size();
  auto run_at = [&](size_t i) {
    size_t j = i;
    while (j < n && values[j] == values[i]) ++j;
    return j - i;
  };
  size_t i = 0;
  while (i < n) {
    size_t run = run_at(i);
    if (run >= 8) {
      w.varint(static_cast<uint64_t>(run) << 1);
      w.out.push_back(static_cast<char>(values[i]));   // ceil(bit_width / 8) = 1 byte
      i += run;
      continue;
    }
    // Bit-packed groups of 8 until a long run starts (or the end; the last group is padded with 0).
    size_t begin = i;
    do {
      i = std::min(i + 8, n);
    } while (i < n && run_at(i) < 8);
    const size_t groups = (i - begin + 7) / 8;
    w.varint((static_cast<uint64_t>(groups) << 1) | 1);
    std::string packed(groups * static_cast<size_t>(bit_width), '\0');
    for (size_t k = begin; k < i; ++k) {
      WL_CHECK(values[k] < (1u << bit_width), "parquet: level ", values[k], " does not fit ", bit_width, " bits (a bug)");
      size_t bit = (k - begin) * static_cast<size_t>(bit_width);
      for (int b = 0; b < bit_width; ++b, ++bit)
        if (values[k] >> b & 1u) packed[bit / 8] = static_cast<char>(packed[bit / 8] | (1 << (bit % 8)));
    }
    w.out += packed;
  }
  return w.out;
}

// [SECTION] Column data helpers

ParquetColumnData ParquetColumnData::int64s(std::vector<int64_t> v) {
  ParquetColumnData d;
  d.int64_values = std::move(v);
  return d;
}
ParquetColumnData ParquetColumnData::floats(std::vector<float> v) {
  ParquetColumnData d;
  d.float_values = std::move(v);
  return d;
}
ParquetColumnData ParquetColumnData::doubles(std::vector<double> v) {
  ParquetColumnData d;
  d.double_values = std::move(v);
  return d;
}
ParquetColumnData ParquetColumnData::float_lists(const std::vector<std::vector<float>>& rows) {
  ParquetColumnData d;
  for (const auto& row : rows) {
    d.list_sizes.push_back(static_cast<int64_t>(row.size()));
    d.float_values.insert(d.float_values.end(), row.begin(), row.end());
  }
  return d;
}

// [SECTION] The writer

ParquetWriter::ParquetWriter(std::string path, std::vector<ParquetColumn> columns, std::string created_by)
    : path_(std::move(path)), columns_(std::move(columns)), created_by_(std::move(created_by)) {
  WL_CHECK(!columns_.empty(), "parquet ", path_, ": a file needs at least one column");
  std::set<std::string> names;
  for (const ParquetColumn& c : columns_) {
    WL_CHECK(!c.name.empty(), "parquet ", path_, ": a column has an empty name");
    WL_CHECK(names.insert(c.name).second, "parquet ", path_, ": column '", c.name, "' appears twice");
  }
  file_ = std::fopen(path_.c_str(), "wb");
  WL_CHECK(file_, "cannot create ", path_, ": ", std::strerror(errno));
  write_bytes("PAR1");
}

ParquetWriter::~ParquetWriter() {
  if (file_) std::fclose(file_);
}

void ParquetWriter::write_bytes(const std::string& bytes) {
  WL_CHECK(file_, "parquet ", path_, ": written to after close() (a bug)");
  WL_CHECK(std::fwrite(bytes.data(), 1, bytes.size(), file_) == bytes.size(), "cannot write ", path_, ": ",
           std::strerror(errno), "; hint: is the disk full?");
  offset_ += static_cast<int64_t>(bytes.size());
}

void ParquetWriter::write_row_group(std::span<const ParquetColumnData> data) {
  WL_CHECK(data.size() == columns_.size(), "parquet ", path_, ": a row group of ", data.size(), " columns, the file has ",
           columns_.size());
  int64_t rows = -1;
  for (size_t c = 0; c < columns_.size(); ++c) {
    const ParquetColumn& col = columns_[c];
    int64_t r = rows_of(data[c], col.type);
    WL_CHECK(r >= 0, "parquet ", path_, ": column '", col.name, "' is ", type_name(col.type), " but other kinds of values were given");
    WL_CHECK(rows < 0 || r == rows, "parquet ", path_, ": column '", col.name, "' has ", r, " rows, the columns before it ", rows);
    rows = r;
    if (col.type == ParquetType::FloatList) {
      int64_t sum = 0;
      for (int64_t n : data[c].list_sizes) {
        WL_CHECK(n >= 0, "parquet ", path_, ": column '", col.name, "' has a list of negative size ", n);
        sum += n;
      }
      WL_CHECK(sum == static_cast<int64_t>(data[c].float_values.size()), "parquet ", path_, ": column '", col.name,
               "' list sizes add up to ", sum, " but ", data[c].float_values.size(), " values were given");
    }
  }
  WL_CHECK(rows >= 1, "parquet ", path_, ": a row group needs at least one row");
  RowGroupInfo group{rows, offset_, {}};
  for (size_t c = 0; c < columns_.size(); ++c) {
    auto [body, num_values] = encode_page(data[c], columns_[c].type);
    WL_CHECK(body.size() < (1u << 31), "parquet ", path_, ": column '", columns_[c].name, "' has ", body.size(),
             " bytes in one row group, over Parquet's 2 GiB page limit; hint: write smaller row groups");
    std::string header = page_header(num_values, body.size());
    ChunkInfo chunk{num_values, offset_, static_cast<int64_t>(header.size() + body.size())};
    write_bytes(header);
    write_bytes(body);
    group.chunks.push_back(chunk);
  }
  rows_ += rows;
  row_groups_.push_back(std::move(group));
}

std::string ParquetWriter::footer(const std::vector<std::pair<std::string, std::string>>& key_value_metadata) const {
  ThriftWriter w;
  w.i32(1, 1);   // version
  // schema: the root, then per column its element (a list: three elements, depth first)
  size_t elements = 1;
  for (const ParquetColumn& c : columns_) elements += c.type == ParquetType::FloatList ? 3 : 1;
  w.list(2, kCtStruct, elements);
  w.begin_element();
  w.string(4, "schema");
  w.i32(5, static_cast<int32_t>(columns_.size()));
  w.end_struct();
  for (const ParquetColumn& c : columns_) {
    if (c.type != ParquetType::FloatList) {
      w.begin_element();
      w.i32(1, physical_type(c.type));
      w.i32(3, kRequired);
      w.string(4, c.name);
      w.end_struct();
      continue;
    }
    w.begin_element();   // required group <name> (LIST)
    w.i32(3, kRequired);
    w.string(4, c.name);
    w.i32(5, 1);
    w.i32(6, kConvertedList);
    w.end_struct();
    w.begin_element();   // repeated group list
    w.i32(3, kRepeated);
    w.string(4, "list");
    w.i32(5, 1);
    w.end_struct();
    w.begin_element();   // required float element
    w.i32(1, kTypeFloat);
    w.i32(3, kRequired);
    w.string(4, "element");
    w.end_struct();
  }
  w.i64(3, rows_);
  w.list(4, kCtStruct, row_groups_.size());
  for (const RowGroupInfo& g : row_groups_) {
    w.begin_element();
    w.list(1, kCtStruct, g.chunks.size());
    int64_t group_bytes = 0;
    for (size_t c = 0; c < g.chunks.size(); ++c) {
      const ChunkInfo& k = g.chunks[c];
      const bool list = columns_[c].type == ParquetType::FloatList;
      w.begin_element();          // ColumnChunk
      w.i64(2, k.offset);         // file_offset
      w.begin_struct(3);          // ColumnMetaData
      w.i32(1, physical_type(columns_[c].type));
      w.list(2, kCtI32, list ? 2 : 1);
      w.varint(ThriftWriter::zigzag(kEncodingPlain));
      if (list) w.varint(ThriftWriter::zigzag(kEncodingRle));
      w.list(3, kCtBinary, list ? 3 : 1);
      w.raw_string(columns_[c].name);
      if (list) {
        w.raw_string("list");
        w.raw_string("element");
      }
      w.i32(4, kCodecUncompressed);
      w.i64(5, k.num_values);
      w.i64(6, k.bytes);          // total_uncompressed_size (page headers included)
      w.i64(7, k.bytes);          // total_compressed_size
      w.i64(9, k.offset);         // data_page_offset
      w.end_struct();
      w.end_struct();
      group_bytes += k.bytes;
    }
    w.i64(2, group_bytes);        // total_byte_size
    w.i64(3, g.rows);
    w.i64(5, g.offset);           // file_offset
    w.i64(6, group_bytes);        // total_compressed_size
    w.end_struct();
  }
  if (!key_value_metadata.empty()) {
    w.list(5, kCtStruct, key_value_metadata.size());
    for (const auto& [key, value] : key_value_metadata) {
      w.begin_element();
      w.string(1, key);
      w.string(2, value);
      w.end_struct();
    }
  }
  w.string(6, created_by_);
  w.out.push_back(0);   // end of FileMetaData
  return w.out;
}

void ParquetWriter::close(const std::vector<std::pair<std::string, std::string>>& key_value_metadata) {
  WL_CHECK(file_, "parquet ", path_, ": close() called twice (a bug)");
  WL_CHECK(!row_groups_.empty(), "parquet ", path_, ": no row group was written; hint: a file needs at least one row");
  std::string meta = footer(key_value_metadata);
  std::string tail;
  put_le32(tail, static_cast<uint32_t>(meta.size()));
  write_bytes(meta);
  write_bytes(tail + "PAR1");
  std::FILE* f = file_;
  file_ = nullptr;
  bool ok = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  int err = errno;
  ok = std::fclose(f) == 0 && ok;
  WL_CHECK(ok, "cannot finish ", path_, ": ", std::strerror(err), "; hint: is the disk full?");
}

}  // namespace wl
