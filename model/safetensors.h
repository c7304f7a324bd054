// The safetensors format: every checkpoint, latent file and state file of ours uses it.
//   [u64 little-endian N][N bytes of JSON header][data area]
// The header maps tensor names to {dtype, shape, data_offsets: [begin, end)} relative to the data
// area, plus an optional "__metadata__" object of string -> string.
//
// Reading is strict: every way a file can be malformed (see parse_safetensors_header) becomes a
// wl::Error naming the file and the tensor; nothing a file holds can crash the process or make it
// read out of bounds. The file is memory-mapped; model/tensor_io.h turns entries into at::Tensor
// views that keep the mapping alive. Torch-free, so the fuzzer (tests/fuzz) links only this file.
// Callers: model/ loaders, `worldloop info`, tests.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wl {

enum class DType : uint8_t { F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, BOOL };

const char* dtype_name(DType dtype);                    // "F32", as the header spells it
std::optional<DType> parse_dtype(std::string_view name);
int dtype_size(DType dtype);                            // bytes per element
std::string shape_string(const std::vector<int64_t>& shape);   // "[3, 96, 3, 3]", for messages

struct TensorEntry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;   // byte range [begin, end) inside the data area
  uint64_t end = 0;
  int64_t numel() const;
  uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  std::vector<TensorEntry> tensors;            // sorted by data offset (= file order)
  std::map<std::string, std::string> metadata; // "__metadata__"
  uint64_t data_start = 0;                     // file offset of the data area: 8 + N
  uint64_t data_size = 0;                      // bytes in the data area
  const TensorEntry* find(std::string_view name) const;
};

constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;   // the reference implementation's limit

// Parses and validates a whole file held in memory. `source` names it in error messages.
// Throws wl::Error for: a file shorter than 8 bytes, a header length beyond the limit or the file,
// invalid JSON or a header that is not an object of objects, an unknown dtype, a shape that is not
// a list of non-negative integers, data_offsets that are not two integers, a reversed range, a range
// outside the data area, shape x dtype size unequal to the range, duplicate names, overlapping
// ranges, gaps between ranges, and bytes after the last tensor.
SafetensorsHeader parse_safetensors_header(const uint8_t* bytes, uint64_t size, const std::string& source);

// A read-only (copy-on-write) memory map of one validated safetensors file. Copies share the map.
class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  const std::vector<TensorEntry>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  uint64_t file_size() const;
  // The entry called `name`; throws wl::Error naming the file and the tensor if absent.
  const TensorEntry& entry(std::string_view name) const;
  const TensorEntry* find(std::string_view name) const { return header_.find(name); }
  // First byte of an entry's data. Writable because the map is private (copy-on-write): writes
  // never reach the file.
  uint8_t* data(const TensorEntry& entry) const;
  // Keeps the map alive for as long as the returned handle lives (zero-copy tensors hold one).
  std::shared_ptr<void> keep_alive() const { return map_; }

 private:
  struct Map;
  std::string path_;
  std::shared_ptr<Map> map_;
  SafetensorsHeader header_;
};

// One tensor to write: raw little-endian bytes in row-major order.
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  uint64_t nbytes = 0;
};

// Writes a safetensors file atomically (temporary file, fsync, rename): an existing file at `path`
// is replaced only when the new one is complete. Tensors are laid out largest dtype first so that
// every tensor starts aligned to its element size; the data area starts 8-byte aligned.
void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace wl
