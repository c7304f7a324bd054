// at::Tensor bridge for safetensors files (see tensor_io.h).
#include "model/tensor_io.h"

#include <ATen/ATen.h>

#include "kernels/core/error.h"

namespace wl {
namespace {

c10::ScalarType to_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::F64: return at::kDouble;
    case DType::F32: return at::kFloat;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::F8_E4M3: return at::kFloat8_e4m3fn;
    case DType::F8_E5M2: return at::kFloat8_e5m2;
    case DType::I64: return at::kLong;
    case DType::I32: return at::kInt;
    case DType::I16: return at::kShort;
    case DType::I8: return at::kChar;
    case DType::U8: return at::kByte;
    case DType::BOOL: return at::kBool;
  }
  WL_FAIL("unknown dtype ", static_cast<int>(dtype));
}

DType from_scalar_type(c10::ScalarType type, const std::string& name) {
  switch (type) {
    case at::kDouble: return DType::F64;
    case at::kFloat: return DType::F32;
    case at::kHalf: return DType::F16;
    case at::kBFloat16: return DType::BF16;
    case at::kFloat8_e4m3fn: return DType::F8_E4M3;
    case at::kFloat8_e5m2: return DType::F8_E5M2;
    case at::kLong: return DType::I64;
    case at::kInt: return DType::I32;
    case at::kShort: return DType::I16;
    case at::kChar: return DType::I8;
    case at::kByte: return DType::U8;
    case at::kBool: return DType::BOOL;
    default: break;
  }
  WL_FAIL("tensor '", name, "' has dtype ", c10::toString(type), ", which safetensors cannot store");
}

}  // namespace

at::Tensor load_tensor(const SafetensorsFile& file, const TensorEntry& entry) {
  auto options = at::TensorOptions().dtype(to_scalar_type(entry.dtype));
  uint8_t* data = file.data(entry);
  if (reinterpret_cast<uintptr_t>(data) % dtype_size(entry.dtype) != 0) {
    at::Tensor copy = at::empty(entry.shape, options);
    std::memcpy(copy.data_ptr(), data, entry.nbytes());
    return copy;
  }
  std::shared_ptr<void> keep = file.keep_alive();
  return at::from_blob(data, entry.shape, [keep](void*) mutable { keep.reset(); }, options);
}

at::Tensor load_tensor(const SafetensorsFile& file, std::string_view name) { return load_tensor(file, file.entry(name)); }

std::map<std::string, at::Tensor> load_tensors(const SafetensorsFile& file) {
  std::map<std::string, at::Tensor> out;
  for (const auto& entry : file.tensors()) out.emplace(entry.name, load_tensor(file, entry));
  return out;
}

void save_tensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                  const std::map<std::string, std::string>& metadata) {
  std::vector<at::Tensor> keep;   // contiguous CPU copies must outlive the write
  std::vector<TensorView> views;
  for (const auto& [name, tensor] : tensors) {
    WL_CHECK(tensor.defined(), path, ": tensor '", name, "' is undefined");
    at::Tensor t = tensor.to(at::kCPU).contiguous();
    keep.push_back(t);
    views.push_back({name, from_scalar_type(t.scalar_type(), name), t.sizes().vec(), t.data_ptr(),
                     static_cast<uint64_t>(t.nbytes())});
  }
  write_safetensors(path, views, metadata);
}

}  // namespace wl
