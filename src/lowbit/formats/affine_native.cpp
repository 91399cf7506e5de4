#include "lowbit/formats/affine_native.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "lowbit/core/float_bits.h"

namespace lowbit {
namespace {

constexpr float kMaxHalf = 65504.0f;

void put_u16(std::byte* p, uint16_t v) { std::memcpy(p, &v, 2); }
uint16_t get_u16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace

namespace affine_codec {

Stored store(float d, float m) {
  // A step above 65504 would become Inf; only a 1-bit block spanning [-65504, 65504]
  // gets there, and the clamped step still decodes finitely.
  d = std::min(d, kMaxHalf);
  Stored s;
  s.d_bits = fp32_to_fp16(d);
  s.m_bits = fp32_to_fp16(m);
  s.d = fp16_to_fp32(s.d_bits);
  s.m = fp16_to_fp32(s.m_bits);
  return s;
}

// Nearest integer in [0, qmax], halves to even. Clamping first keeps the value below
// 2^22, where adding and removing 1.5 * 2^23 rounds exactly; NaN maps to 0.
float nearest_code(float v, float qmax) {
  v = v > 0.0f ? (v < qmax ? v : qmax) : 0.0f;
  return (v + 0x1.8p23f) - 0x1.8p23f;
}

void pick_codes(const float* x, int n, int qmax, float d, float m, uint8_t* q) {
  if (!(d > 0.0f)) {
    std::fill(q, q + n, uint8_t{0});
    return;
  }
  const float inv = 1.0f / d, fq = float(qmax);
  for (int i = 0; i < n; ++i) q[i] = static_cast<uint8_t>(nearest_code((x[i] - m) * inv, fq));
}

Stored rtn_block(const float* x, int n, int qmax, uint8_t* q) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  const Stored s = store((hi - lo) / float(qmax), lo);
  pick_codes(x, n, qmax, s.d, s.m, q);
  return s;
}

void check_bits(int bits) {
  if (bits < kAffineMinBits || bits > kAffineMaxBits)
    throw std::invalid_argument("affine formats have 1 to 8 bits, not " + std::to_string(bits));
}

void check_group(int bits, int group, int64_t n) {
  check_bits(bits);
  if (std::find(kAffineGroups.begin(), kAffineGroups.end(), group) == kAffineGroups.end())
    throw std::invalid_argument("affine group size must be 16, 32, 64, 128 or 256, not " + std::to_string(group));
  if (n < 0 || n % group != 0)
    throw std::invalid_argument(std::to_string(n) + " weights are not whole groups of " + std::to_string(group));
}

void write_block(std::byte* block, const Stored& s, const uint8_t* codes, int group, int bits) {
  put_u16(block, s.d_bits);
  put_u16(block + 2, s.m_bits);
  pack_affine_codes(codes, group, bits, block + 4);
}

}  // namespace affine_codec

using namespace affine_codec;

void pack_affine_codes(const uint8_t* q, int64_t n, int bits, std::byte* out) {
  uint32_t acc = 0;
  int filled = 0;
  for (int64_t i = 0; i < n; ++i) {
    acc |= uint32_t{q[i]} << filled;
    filled += bits;
    while (filled >= 8) {
      *out++ = static_cast<std::byte>(acc & 0xFFu);
      acc >>= 8;
      filled -= 8;
    }
  }
}

void unpack_affine_codes(const std::byte* in, int64_t n, int bits, uint8_t* q) {
  const uint32_t mask = (1u << bits) - 1u;
  uint32_t acc = 0;
  int have = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (have < bits) {  // bits <= 8, so one byte always suffices
      acc |= uint32_t(std::to_integer<uint8_t>(*in++)) << have;
      have += 8;
    }
    q[i] = static_cast<uint8_t>(acc & mask);
    acc >>= bits;
    have -= bits;
  }
}

void dequantize_affine(int bits, int group, const std::byte* src, float* dst, int64_t n) {
  check_group(bits, group, n);
  const size_t block_bytes = affine_block_bytes(bits, group);
  uint8_t q[kAffineMaxGroup];
  for (int64_t b = 0; b < n / group; ++b) {
    const std::byte* block = src + size_t(b) * block_bytes;
    const float d = fp16_to_fp32(get_u16(block)), m = fp16_to_fp32(get_u16(block + 2));
    unpack_affine_codes(block + 4, group, bits, q);
    float* y = dst + b * group;
    for (int i = 0; i < group; ++i) y[i] = d * float(q[i]) + m;
  }
}

void quantize_affine_ref(int bits, int group, const float* src, std::byte* dst, int64_t n) {
  check_group(bits, group, n);
  const int qmax = (1 << bits) - 1;
  const size_t block_bytes = affine_block_bytes(bits, group);
  uint8_t codes[kAffineMaxGroup];
  for (int64_t b = 0; b < n / group; ++b)
    write_block(dst + size_t(b) * block_bytes, rtn_block(src + b * group, group, qmax, codes), codes, group, bits);
}

void dequantize_affine_per_channel(int bits, const std::byte* codes, const uint16_t* scale_zero, int64_t rows,
                                   int64_t cols, float* dst) {
  check_bits(bits);
  if (rows < 0 || cols <= 0 || cols % kAffineCodesPerChannelBlock != 0)
    throw std::invalid_argument("per-channel rows must be a positive multiple of 8 weights, not " +
                                std::to_string(cols));
  const size_t row_bytes = size_t(cols) * size_t(bits) / 8;
  std::vector<uint8_t> q(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float d = fp16_to_fp32(scale_zero[2 * r]), m = fp16_to_fp32(scale_zero[2 * r + 1]);
    unpack_affine_codes(codes + size_t(r) * row_bytes, cols, bits, q.data());
    float* y = dst + r * cols;
    for (int64_t i = 0; i < cols; ++i) y[i] = d * float(q[size_t(i)]) + m;
  }
}

}  // namespace lowbit
