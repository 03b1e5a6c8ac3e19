// Marks per-item functions that both the C++ (CPU) build and the CUDA build compile.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define IMPDIST_HD __host__ __device__ __forceinline__
#else
#define IMPDIST_HD inline
#endif
