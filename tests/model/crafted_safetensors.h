// Hand-made safetensors files: one valid, and one per error class the reader must refuse.
// Shared by the model tests (parse errors), the CLI tests (`worldloop info` exits with one line)
// and the fuzz corpus check (every class has a seed in tests/fuzz/corpus).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wl::test {

// [u64 length][header][data]; `length` overrides the header length field when non-negative.
inline std::string safetensors_bytes(const std::string& header, const std::string& data, int64_t length = -1) {
  uint64_t n = length >= 0 ? static_cast<uint64_t>(length) : header.size();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

struct CraftedFile {
  std::string name;       // error class, also the corpus file name
  std::string bytes;
  std::string expect;     // a phrase the error message must contain
};

inline std::string valid_header() {
  return R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
         R"("b":{"dtype":"U8","shape":[1,3],"data_offsets":[8,11]}})";
}
inline std::string valid_data() { return std::string(11, '\x01'); }

inline std::vector<CraftedFile> corrupt_files() {
  const std::string d8(8, '\0');
  auto one = [](const std::string& entry) { return R"({"t":)" + entry + "}"; };
  std::string valid = safetensors_bytes(valid_header(), valid_data());
  return {
      {"too_short", std::string("\x10\x00\x00", 3), "too short for the 8-byte header length"},
      {"header_over_limit", safetensors_bytes("{}", "", 200ll << 20), "exceeds the"},
      {"header_beyond_file", safetensors_bytes("{}", "", 1000), "larger than the"},
      {"not_json", safetensors_bytes("{\"a\": nope}", ""), "not valid JSON"},
      {"not_an_object", safetensors_bytes("[1]", ""), "does not start with '{'"},
      {"entry_not_object", safetensors_bytes(one("5"), ""), "expected an object"},
      {"missing_field", safetensors_bytes(one(R"({"dtype":"F32","shape":[2]})"), d8), "missing field \"data_offsets\""},
      {"unknown_dtype", safetensors_bytes(one(R"({"dtype":"F12","shape":[2],"data_offsets":[0,8]})"), d8), "unknown dtype \"F12\""},
      {"negative_dim", safetensors_bytes(one(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"), d8), "negative dim -2"},
      {"non_integer_dim", safetensors_bytes(one(R"({"dtype":"F32","shape":[2.5],"data_offsets":[0,8]})"), d8), "must be a non-negative integer"},
      {"offsets_outside", safetensors_bytes(one(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})"), d8), "outside the data area"},
      {"offsets_reversed", safetensors_bytes(one(R"({"dtype":"F32","shape":[0],"data_offsets":[8,0]})"), d8), "out of order"},
      {"size_mismatch", safetensors_bytes(one(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"), d8), "needs 12 bytes but data_offsets span 8"},
      {"size_overflow", safetensors_bytes(one(R"({"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,8]})"), d8), "more than 2^64"},
      {"overlap", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", d8), "overlap tensor 'a'"},
      {"gap", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})", d8), "a gap of 2"},
      {"trailing_bytes", safetensors_bytes(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})"), d8), "trailing bytes"},
      {"duplicate_name", safetensors_bytes(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})", d8), "duplicate name"},
      {"bad_metadata", safetensors_bytes(R"({"__metadata__":{"k":1}})", ""), "must be a string"},
      {"too_deep", safetensors_bytes(one(R"({"dtype":"F32","shape":[[[1]]],"data_offsets":[0,4]})"), d8), "nests deeper"},
      {"truncated", valid.substr(0, valid.size() - 3), "outside the data area"},
  };
}

}  // namespace wl::test
