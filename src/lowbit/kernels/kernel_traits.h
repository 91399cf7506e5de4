// The compute side of the format table (as ggml keeps type_traits_cpu beside
// type_traits): for each weight format, the activation format it multiplies against
// and its dot product, as a plain scalar reference and as the runtime-dispatched SIMD
// version. formats/registry.h stays free of SIMD; this table adds to it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lowbit/formats/dtype.h"

namespace lowbit {

// Dot product of n weights (one packed row, n a multiple of the block size) with n
// activations packed in the kernel's act_type.
using VecDotFn = float (*)(int64_t n, const std::byte* weights, const std::byte* activations);
// Several activation rows (stride bytes apart) at once: out[k] for k < count ≤ 4.
using VecDotMultiFn = void (*)(int64_t n, const std::byte* weights, const std::byte* activations, size_t stride,
                               int count, float* out);
// Packs n floats into an activation format (F32 copy, F16, BF16, Q8_0, Q8_1, Q8_K).
using ActQuantizeFn = void (*)(const float* x, std::byte* dst, int64_t n);

struct KernelTraits {
  DType type;                         // weight format
  DType act_type;                     // activation format (= the registry's vec_dot_type)
  VecDotFn dot_ref;                   // plain scalar code: the specification
  VecDotFn dot;                       // SIMD with runtime dispatch (equals dot_ref where none exists yet)
  VecDotMultiFn dot_multi = nullptr;  // up to 4 tokens per weight pass (prompt processing)
};

// nullptr where a format has no kernel (matmul then dequantizes row by row).
const KernelTraits* find_kernel(DType weight_type);
std::span<const KernelTraits> all_kernels();
// Activation packing for act_type; bytes needed for n activations of act_type.
ActQuantizeFn activation_quantizer(DType act_type);
size_t activation_bytes(DType act_type, int64_t n);

}  // namespace lowbit
