// Device helpers for timing and memory reports: synchronise before reading a clock, and read the
// CUDA caching allocator's current and peak bytes (CPU: the process's resident memory).
// Callers: `worldloop bench`, the frame loop's memory sampling.
#pragma once

#include <cstdint>
#include <string>

namespace wl {

struct DeviceMemory {
  int64_t current_bytes = 0;   // CUDA: allocated by tensors now; CPU: resident set size
  int64_t peak_bytes = 0;      // CUDA: since the last reset_peak_memory; CPU: peak resident set size
};

// Waits for all queued work on `device` ("cpu" returns at once).
void synchronize(const std::string& device);
DeviceMemory memory_stats(const std::string& device);
void reset_peak_memory(const std::string& device);
// "NVIDIA H200 (139.8 GiB)" or the CPU model.
std::string device_name(const std::string& device);

}  // namespace wl
