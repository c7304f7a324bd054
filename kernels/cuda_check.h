// WL_CUDA_CHECK(call): throws wl::Error naming the call, the CUDA error and file:line.
// Only CUDA translation units (and CUDA-build C++ files) include this.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/core/error.h"

#define WL_CUDA_CHECK(call)                                                                    \
  do {                                                                                         \
    cudaError_t wl_cuda_status_ = (call);                                                      \
    if (wl_cuda_status_ != cudaSuccess) [[unlikely]]                                           \
      ::wl::detail::throw_check(__FILE__, __LINE__, "CUDA call `" #call "`",                   \
                                ::wl::str("CUDA error ", cudaGetErrorName(wl_cuda_status_),     \
                                          ": ", cudaGetErrorString(wl_cuda_status_)));          \
  } while (0)

// After a kernel launch: catches bad launch configurations at the launch site.
#define WL_CUDA_CHECK_LAUNCH() WL_CUDA_CHECK(cudaGetLastError())
