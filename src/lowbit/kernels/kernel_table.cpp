// The compute-side table: one row per weight format with a dot-product kernel. A
// format missing here still runs (matmul dequantizes it row by row), only slower.
#include <array>

#include "lowbit/kernels/dot_reference.h"
#include "lowbit/kernels/dot_simd.h"
#include "lowbit/kernels/kernel_traits.h"

namespace lowbit {
namespace {

using D = DType;

constexpr std::array kKernels = {
    KernelTraits{D::F32, D::F32, dot_ref::f32, dot_simd::f32},
    KernelTraits{D::F16, D::F16, dot_ref::f16, dot_simd::f16},
    KernelTraits{D::BF16, D::BF16, dot_ref::bf16, dot_simd::bf16},
    KernelTraits{D::Q8_0, D::Q8_0, dot_ref::q8_0, dot_simd::q8_0_bytes, dot_simd::q8_0_multi},
    KernelTraits{D::Q4_0, D::Q8_0, dot_ref::q4_0, dot_simd::q4_0_bytes, dot_simd::q4_0_multi},
    KernelTraits{D::Q4_1, D::Q8_1, dot_ref::q4_1, dot_simd::q4_1_bytes, dot_simd::q4_1_multi},
    KernelTraits{D::Q5_0, D::Q8_0, dot_ref::q5_0, dot_simd::q5_0},
    KernelTraits{D::Q5_1, D::Q8_1, dot_ref::q5_1, dot_simd::q5_1},
    KernelTraits{D::Q4_K, D::Q8_K, dot_ref::q4_k, dot_simd::q4_k_bytes, dot_simd::q4_k_multi},
    KernelTraits{D::Q6_K, D::Q8_K, dot_ref::q6_k, dot_simd::q6_k_bytes, dot_simd::q6_k_multi},
    KernelTraits{D::Q5_K, D::Q8_K, dot_ref::q5_k, dot_simd::q5_k},
    KernelTraits{D::Q3_K, D::Q8_K, dot_ref::q3_k, dot_simd::q3_k},
    KernelTraits{D::Q2_K, D::Q8_K, dot_ref::q2_k, dot_simd::q2_k},
    KernelTraits{D::IQ4_NL, D::Q8_0, dot_ref::iq4_nl, dot_simd::iq4_nl},
    KernelTraits{D::TQ2_0, D::Q8_K, dot_ref::tq2_0, dot_simd::tq2_0},
    KernelTraits{D::TQ1_0, D::Q8_K, dot_ref::tq1_0, dot_simd::tq1_0},
};

}  // namespace

const KernelTraits* find_kernel(DType weight_type) {
  for (const auto& k : kKernels)
    if (k.type == weight_type) return &k;
  return nullptr;
}

std::span<const KernelTraits> all_kernels() { return kKernels; }

}  // namespace lowbit
