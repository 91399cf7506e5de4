// Packing of float activations into the formats weight kernels multiply against,
// numerically as ggml's quantize_row_q8_0/q8_1/q8_K references so that lowbit's dot
// products round as llama.cpp's do.
#include <cmath>
#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/registry.h"
#include "lowbit/kernels/activation_blocks.h"
#include "lowbit/kernels/kernel_traits.h"

namespace lowbit {
namespace {

void pack_f32(const float* x, std::byte* dst, int64_t n) { std::memcpy(dst, x, size_t(n) * sizeof(float)); }

void pack_f16(const float* x, std::byte* dst, int64_t n) {
  auto* out = reinterpret_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_fp16(x[i]);
}

void pack_bf16(const float* x, std::byte* dst, int64_t n) {
  auto* out = reinterpret_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_bf16(x[i]);
}

void pack_q8_0(const float* x, std::byte* dst, int64_t n) { traits(DType::Q8_0).encoder()(x, dst, n); }

// d = amax / 127, codes round(x / d), s = d * sum(codes).
void pack_q8_1(const float* x, std::byte* dst, int64_t n) {
  auto* out = reinterpret_cast<BlockQ8_1*>(dst);
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* v = x + b * 32;
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(v[j]));
    const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      out[b].qs[j] = static_cast<int8_t>(std::lround(v[j] * id));
      sum += out[b].qs[j];
    }
    out[b].d = fp32_to_fp16(d);
    out[b].s = fp32_to_fp16(static_cast<float>(sum) * d);
  }
}

// ggml's Q8_K: the scale comes from the signed value of largest magnitude, so that
// value maps to exactly -127 (codes stay within [-128, 127]).
void pack_q8_k(const float* x, std::byte* dst, int64_t n) {
  auto* out = reinterpret_cast<BlockQ8_K*>(dst);
  for (int64_t b = 0; b < n / 256; ++b) {
    const float* v = x + b * 256;
    float max = 0, amax = 0;
    for (int j = 0; j < 256; ++j)
      if (std::fabs(v[j]) > amax) {
        amax = std::fabs(v[j]);
        max = v[j];
      }
    BlockQ8_K& o = out[b];
    if (amax == 0) {
      std::memset(&o, 0, sizeof(o));
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < 256; ++j) {
      o.qs[j] = static_cast<int8_t>(std::min(127, kquant::nearest_int(iscale * v[j])));
    }
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += o.qs[j * 16 + i];
      o.bsums[j] = static_cast<int16_t>(sum);
    }
    o.d = 1.0f / iscale;
  }
}

// The activation formats the kernel table's rows multiply against, with their packers.
struct ActivationFormat {
  DType type;
  ActQuantizeFn pack;
};
constexpr ActivationFormat kActivationFormats[] = {
    {DType::F32, pack_f32},   {DType::F16, pack_f16},   {DType::BF16, pack_bf16},
    {DType::Q8_0, pack_q8_0}, {DType::Q8_1, pack_q8_1}, {DType::Q8_K, pack_q8_k},
};
static_assert(sizeof(BlockQ8_1) == 36 && sizeof(BlockQ8_K) == 292, "the format table's Q8_1 and Q8_K sizes");

}  // namespace

ActQuantizeFn activation_quantizer(DType act_type) {
  for (const auto& a : kActivationFormats)
    if (a.type == act_type) return a.pack;
  return nullptr;
}

// The packed blocks have the format table's sizes (the static_assert above), so the
// table says how many bytes n activations take.
size_t activation_bytes(DType act_type, int64_t n) {
  if (activation_quantizer(act_type) == nullptr) return 0;
  return size_t(row_bytes(act_type, uint64_t(n)).value_or(0));
}

}  // namespace lowbit
