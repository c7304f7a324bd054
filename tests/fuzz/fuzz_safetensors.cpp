// libFuzzer target for the safetensors header parser: any input either parses into a header whose
// every range lies inside the input, or throws wl::Error. Anything else (a crash, an out-of-bounds
// read caught by ASan, undefined behaviour caught by UBSan, another exception type) is a bug.
// Built with clang by tests/fuzz/CMakeLists.txt; seeds in tests/fuzz/corpus, one per error class.
#include <cstdint>
#include <cstdlib>

#include "kernels/core/error.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    wl::SafetensorsHeader header = wl::parse_safetensors_header(data, size, "fuzz");
    uint64_t covered = 0;
    for (const auto& t : header.tensors) {
      // The promises the loader relies on: in bounds, exactly tiled, size consistent.
      if (t.begin != covered || t.end < t.begin || header.data_start + t.end > size) std::abort();
      if (static_cast<uint64_t>(t.numel()) * wl::dtype_size(t.dtype) != t.nbytes()) std::abort();
      volatile uint8_t touch = t.nbytes() ? data[header.data_start + t.end - 1] : 0;
      (void)touch;
      covered = t.end;
    }
    if (covered != header.data_size) std::abort();
  } catch (const wl::Error&) {
  }
  return 0;
}
