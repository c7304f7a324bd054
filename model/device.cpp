// Device synchronisation and memory statistics (see device.h).
#include "model/device.h"

#include <ATen/ATen.h>

#include <fstream>

#include "kernels/core/error.h"

#ifdef WL_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#endif

namespace wl {
namespace {

int64_t status_kib(const char* field) {   // a "VmRSS:   1234 kB" line of /proc/self/status
  std::ifstream in("/proc/self/status");
  std::string key;
  int64_t value = 0;
  while (in >> key) {
    if (key == field) {
      in >> value;
      return value;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

#ifdef WL_WITH_CUDA
c10::DeviceIndex cuda_index(const std::string& device) {
  at::Device d(device);
  return d.has_index() ? d.index() : c10::cuda::current_device();
}
#endif

}  // namespace

void synchronize(const std::string& device) {
  if (!at::Device(device).is_cuda()) return;
#ifdef WL_WITH_CUDA
  c10::cuda::device_synchronize();
#endif
}

DeviceMemory memory_stats(const std::string& device) {
  DeviceMemory m;
  if (at::Device(device).is_cuda()) {
#ifdef WL_WITH_CUDA
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(cuda_index(device));
    const auto& bytes = stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)];
    m.current_bytes = bytes.current;
    m.peak_bytes = bytes.peak;
#endif
    return m;
  }
  m.current_bytes = status_kib("VmRSS:") * 1024;
  m.peak_bytes = status_kib("VmHWM:") * 1024;
  return m;
}

void reset_peak_memory(const std::string& device) {
  if (!at::Device(device).is_cuda()) return;
#ifdef WL_WITH_CUDA
  c10::cuda::CUDACachingAllocator::resetPeakStats(cuda_index(device));
#endif
}

std::string device_name(const std::string& device) {
  if (at::Device(device).is_cuda()) {
#ifdef WL_WITH_CUDA
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, cuda_index(device)) == cudaSuccess)
      return str(prop.name, " (", prop.totalGlobalMem / double(1ull << 30), " GiB)");
#endif
    return "CUDA device";
  }
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "CPU";
}

}  // namespace wl
