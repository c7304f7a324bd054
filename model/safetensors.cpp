// safetensors reading (strict validation, memory map) and atomic writing. See safetensors.h.
#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "kernels/core/error.h"

namespace wl {

using Json = nlohmann::json;

// [SECTION] dtypes

namespace {
struct DTypeInfo {
  DType dtype;
  const char* name;
  int size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8},         {DType::F32, "F32", 4},         {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},       {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1},
    {DType::I64, "I64", 8},         {DType::I32, "I32", 4},         {DType::I16, "I16", 2},
    {DType::I8, "I8", 1},           {DType::U8, "U8", 1},           {DType::BOOL, "BOOL", 1},
};
}  // namespace

const char* dtype_name(DType dtype) { return kDTypes[static_cast<int>(dtype)].name; }
int dtype_size(DType dtype) { return kDTypes[static_cast<int>(dtype)].size; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& info : kDTypes)
    if (name == info.name) return info.dtype;
  return std::nullopt;
}

int64_t TensorEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;   // bounded by validation: numel * size fits the file
  return n;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

const TensorEntry* SafetensorsHeader::find(std::string_view name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

// [SECTION] header parsing

namespace {

// Everything the parser reports starts with the file, then the tensor when there is one.
[[noreturn]] void fail(const std::string& source, const std::string& message) {
  throw Error(source + ": " + message);
}
[[noreturn]] void fail_tensor(const std::string& source, const std::string& name, const std::string& message) {
  throw Error(str(source, ": tensor '", name, "': ", message));
}

// A JSON number that is a non-negative integer fitting in 63 bits.
bool as_count(const Json& v, uint64_t& out) {
  if (!v.is_number_integer()) return false;
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
  } else {
    int64_t s = v.get<int64_t>();
    if (s < 0) return false;
    out = static_cast<uint64_t>(s);
  }
  return out <= static_cast<uint64_t>(INT64_MAX);
}

TensorEntry parse_entry(const std::string& source, const std::string& name, const Json& value, uint64_t data_size) {
  TensorEntry t;
  t.name = name;
  if (!value.is_object()) fail_tensor(source, name, str("expected an object {dtype, shape, data_offsets}, found ", value.type_name()));
  auto field = [&](const char* key) -> const Json& {
    auto it = value.find(key);
    if (it == value.end()) fail_tensor(source, name, str("missing field \"", key, "\""));
    return *it;
  };
  const Json& dtype = field("dtype");
  if (!dtype.is_string()) fail_tensor(source, name, str("dtype must be a string, found ", dtype.type_name()));
  auto parsed = parse_dtype(dtype.get_ref<const std::string&>());
  if (!parsed)
    fail_tensor(source, name, str("unknown dtype \"", dtype.get_ref<const std::string&>(),
                                  "\" (expected one of F64 F32 F16 BF16 F8_E4M3 F8_E5M2 I64 I32 I16 I8 U8 BOOL)"));
  t.dtype = *parsed;

  const Json& shape = field("shape");
  if (!shape.is_array()) fail_tensor(source, name, str("shape must be a list, found ", shape.type_name()));
  uint64_t bytes = static_cast<uint64_t>(dtype_size(t.dtype));
  bool overflow = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    const Json& d = shape[i];
    if (d.is_number_integer() && !d.is_number_unsigned() && d.get<int64_t>() < 0)
      fail_tensor(source, name, str("negative dim ", d.get<int64_t>(), " at index ", i, " of shape"));
    uint64_t dim = 0;
    if (!as_count(d, dim)) fail_tensor(source, name, str("shape[", i, "] must be a non-negative integer, found ", d.dump()));
    t.shape.push_back(static_cast<int64_t>(dim));
    overflow = overflow || __builtin_mul_overflow(bytes, dim, &bytes);
  }

  const Json& offsets = field("data_offsets");
  uint64_t begin = 0, end = 0;
  if (!offsets.is_array() || offsets.size() != 2 || !as_count(offsets[0], begin) || !as_count(offsets[1], end))
    fail_tensor(source, name, str("data_offsets must be two non-negative integers [begin, end], found ", offsets.dump()));
  if (begin > end) fail_tensor(source, name, str("data_offsets [", begin, ", ", end, ") are out of order (begin > end)"));
  if (end > data_size)
    fail_tensor(source, name, str("data_offsets [", begin, ", ", end, ") lie outside the data area of ", data_size,
                                  " bytes (file truncated?)"));
  t.begin = begin;
  t.end = end;
  if (overflow || bytes != end - begin)
    fail_tensor(source, name, str("shape ", shape_string(t.shape), " x ", dtype_name(t.dtype), " needs ",
                                  overflow ? std::string("more than 2^64") : std::to_string(bytes),
                                  " bytes but data_offsets span ", end - begin));
  return t;
}

}  // namespace

SafetensorsHeader parse_safetensors_header(const uint8_t* bytes, uint64_t size, const std::string& source) {
  if (size < 8) fail(source, str("file is ", size, " bytes, too short for the 8-byte header length (not a safetensors file?)"));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];   // little-endian on any host
  if (n > kMaxSafetensorsHeaderBytes)
    fail(source, str("header length ", n, " exceeds the ", kMaxSafetensorsHeaderBytes, "-byte limit (not a safetensors file?)"));
  if (n > size - 8)
    fail(source, str("header length ", n, " is larger than the ", size - 8, " bytes that follow it (file truncated?)"));
  if (n < 2 || bytes[8] != '{') fail(source, "header does not start with '{' (not a safetensors file?)");

  SafetensorsHeader header;
  header.data_start = 8 + n;
  header.data_size = size - 8 - n;

  // The callback sees every key before nlohmann would silently keep only the last of a duplicate;
  // it also bounds nesting (a valid header is three levels deep: object, entry, list).
  std::vector<std::set<std::string>> open_objects;
  auto check_event = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth > 3) fail(source, "header nests deeper than a safetensors header can (expected name -> {dtype, shape, data_offsets})");
    if (event == Json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == Json::parse_event_t::object_end && !open_objects.empty()) open_objects.pop_back();
    if (event == Json::parse_event_t::key && !open_objects.empty()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second) {
        if (depth == 1) fail_tensor(source, key, "duplicate name in header");
        fail(source, str("duplicate key \"", key, "\" in a header entry"));
      }
    }
    return true;
  };
  Json json;
  try {
    json = Json::parse(bytes + 8, bytes + 8 + n, check_event);
  } catch (const Json::exception& e) {
    fail(source, str("header is not valid JSON: ", e.what()));
  }
  if (!json.is_object()) fail(source, str("header must be a JSON object, found ", json.type_name()));

  for (const auto& [name, value] : json.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) fail(source, str("__metadata__ must be an object of strings, found ", value.type_name()));
      for (const auto& [key, v] : value.items()) {
        if (!v.is_string()) fail(source, str("__metadata__ value for \"", key, "\" must be a string, found ", v.type_name()));
        header.metadata[key] = v.get<std::string>();
      }
      continue;
    }
    header.tensors.push_back(parse_entry(source, name, value, header.data_size));
  }

  // Ranges must tile the data area exactly, as the reference implementation requires.
  std::sort(header.tensors.begin(), header.tensors.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const auto& t : header.tensors) {
    if (t.begin < covered)
      fail_tensor(source, t.name, str("data_offsets [", t.begin, ", ", t.end, ") overlap tensor '", previous->name,
                                      "' which ends at ", covered));
    if (t.begin > covered)
      fail_tensor(source, t.name, str("data_offsets start at ", t.begin, " but the previous tensor ends at ", covered,
                                      " (a gap of ", t.begin - covered, " unreferenced bytes)"));
    covered = t.end;
    previous = &t;
  }
  if (covered != header.data_size)
    fail(source, str("data area holds ", header.data_size, " bytes but the tensors cover ", covered,
                     " (trailing bytes after the last tensor)"));
  return header;
}

// [SECTION] memory-mapped file

struct SafetensorsFile::Map {
  void* base = MAP_FAILED;
  uint64_t size = 0;
  ~Map() {
    if (base != MAP_FAILED) munmap(base, size);
  }
};

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile file;
  file.path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(str(path, ": cannot open: ", std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int err = errno;
    ::close(fd);
    throw Error(str(path, ": not a regular file", err ? str(": ", std::strerror(err)) : std::string()));
  }
  auto map = std::make_shared<Map>();
  map->size = static_cast<uint64_t>(st.st_size);
  if (map->size > 0) {
    // Private + writable: tensors may be modified in place without ever touching the file.
    map->base = mmap(nullptr, map->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    int err = errno;
    ::close(fd);
    if (map->base == MAP_FAILED) throw Error(str(path, ": cannot map ", map->size, " bytes: ", std::strerror(err)));
  } else {
    ::close(fd);
  }
  const auto* bytes = map->size ? static_cast<const uint8_t*>(map->base) : nullptr;
  static const uint8_t kEmpty[1] = {0};
  file.header_ = parse_safetensors_header(bytes ? bytes : kEmpty, map->size, path);
  file.map_ = std::move(map);
  return file;
}

uint64_t SafetensorsFile::file_size() const { return map_ ? map_->size : 0; }

const TensorEntry& SafetensorsFile::entry(std::string_view name) const {
  if (const TensorEntry* t = header_.find(name)) return *t;
  throw Error(str(path_, ": no tensor named '", name, "' (the file holds ", header_.tensors.size(),
                  " tensors; `worldloop info ", path_, "` lists them)"));
}

uint8_t* SafetensorsFile::data(const TensorEntry& entry) const {
  return static_cast<uint8_t*>(map_->base) + header_.data_start + entry.begin;
}

// [SECTION] writing

void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::set<std::string> names;
  for (const auto& t : tensors) {
    WL_CHECK(!t.name.empty() && t.name != "__metadata__", path, ": cannot write a tensor named '", t.name, "'");
    WL_CHECK(names.insert(t.name).second, path, ": tensor '", t.name, "' given twice");
    uint64_t bytes = static_cast<uint64_t>(dtype_size(t.dtype));
    for (int64_t d : t.shape) {
      WL_CHECK(d >= 0, path, ": tensor '", t.name, "' has negative dim ", d);
      bytes *= static_cast<uint64_t>(d);
    }
    WL_CHECK(bytes == t.nbytes, path, ": tensor '", t.name, "' shape ", shape_string(t.shape), " x ",
             dtype_name(t.dtype), " needs ", bytes, " bytes but ", t.nbytes, " were given");
    WL_CHECK(t.data || t.nbytes == 0, path, ": tensor '", t.name, "' has no data");
  }

  // Largest elements first keeps every tensor aligned to its element size.
  std::vector<const TensorView*> order;
  for (const auto& t : tensors) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), [](const TensorView* a, const TensorView* b) {
    int sa = dtype_size(a->dtype), sb = dtype_size(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorView* t : order) {
    header[t->name] = {{"dtype", dtype_name(t->dtype)}, {"shape", t->shape}, {"data_offsets", {offset, offset + t->nbytes}}};
    offset += t->nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');   // data area starts 8-byte aligned

  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(str(path, ": cannot create ", tmp, ": ", std::strerror(errno)));
  auto write_all = [&](const void* data, uint64_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd, p, std::min<uint64_t>(n, 1ull << 30));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      p += w;
      n -= static_cast<uint64_t>(w);
    }
    return true;
  };
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(uint64_t(text.size()) >> (8 * i));
  bool ok = write_all(length, 8) && write_all(text.data(), text.size());
  for (const TensorView* t : order) ok = ok && write_all(t->data, t->nbytes);
  ok = ok && ::fsync(fd) == 0;
  int err = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    throw Error(str(path, ": cannot write: ", std::strerror(err), " (the previous file, if any, is unchanged)"));
  }
}

}  // namespace wl
