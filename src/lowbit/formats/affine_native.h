// lowbit-native affine formats: the layouts of the HQQ paper that ggml has no type for.
// They are written only into lowbit's own container (LBIT, see io/gguf.h), never into a
// GGUF file, because no ggml reader could decode them.
//
// Grouped types "A<bits>G<group>", bits 1..8, group 16, 32, 64, 128 or 256:
//   uint16 d                   fp16 step
//   uint16 m                   fp16 offset
//   codes[group * bits / 8]    the group's codes, bit-packed: code i occupies bits
//                              [i*bits, (i+1)*bits) of the stream, where stream bit k
//                              is bit k % 8 of byte k / 8 (little-endian, LSB first)
//   decode: x[i] = d * q[i] + m, q in 0..2^bits - 1, computed in float in that order.
// Encode (the reference, rtn): m = min x, d = (max x - min x) / (2^bits - 1), both
// rounded to fp16 (d clamped to 65504 so that it stays finite), then each code is the
// nearest grid point of the *decoded* d and m:
// q = clamp(round_half_even((x - m) * (1 / d)), 0, 2^bits - 1), and all codes 0 when d is 0.
//
// Per-channel types "A<bits>PC": one (d, m) per row. A static table cannot have a block
// as long as a row, so the weight tensor holds only the codes (blocks of 8 codes in
// `bits` bytes, packed as above, each row starting on a byte boundary since 8 | cols)
// and a companion F16 tensor named "<name>.lowbit_scale_zero" of shape [rows, 2] (GGUF
// ne = {2, rows}) holds (d, m) per row. The codes tensor cannot be decoded on its own:
// its registry row has no to_float, from_float or quantizers; use the *_per_channel
// functions below.
//
// Methods (per group; per row for per-channel; quant/affine_native_methods.h):
//   rtn    the reference encoding above.
//   hqq    rtn's step, with the zero-point moved by HQQ (quant::hqq_refine_zero) under
//          the lp loss; kept only where its lp error beats rtn's.
//   search options.search_candidates sub-ranges of [min, max] (pulling both ends towards
//          the mean, or clipping only the end farther from it, by up to
//          min(0.6, 2.5 / 2^bits) of the range), each with codes re-picked and (d, m)
//          refitted by least squares; a few Lloyd steps (codes -> refit) on the winner,
//          then an HQQ zero step; kept only where its L2 error beats rtn's.
// hqq_iterations = 0 turns HQQ off in both methods.
// Every comparison uses the fp16-rounded parameters and the codes they produce, i.e.
// exactly what will decode.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lowbit/formats/dtype.h"
#include "lowbit/formats/registry.h"

namespace lowbit {

inline constexpr int kAffineMinBits = 1;
inline constexpr int kAffineMaxBits = 8;
inline constexpr std::array<int, 5> kAffineGroups = {16, 32, 64, 128, 256};
inline constexpr int64_t kAffineCodesPerChannelBlock = 8;  // per-channel codes: 8 per block
inline constexpr std::string_view kScaleZeroSuffix = ".lowbit_scale_zero";

// Bytes of one grouped block.
constexpr size_t affine_block_bytes(int bits, int group) { return 4 + size_t(bits) * size_t(group) / 8; }

// Packs n codes (each < 2^bits) into n * bits / 8 bytes; n * bits must be a multiple of 8.
void pack_affine_codes(const uint8_t* q, int64_t n, int bits, std::byte* out);
void unpack_affine_codes(const std::byte* in, int64_t n, int bits, uint8_t* q);

inline constexpr int kAffineMaxGroup = 256;

// Grouped formats, n a multiple of group. quantize_affine_ref is the reference (rtn).
void dequantize_affine(int bits, int group, const std::byte* src, float* dst, int64_t n);
void quantize_affine_ref(int bits, int group, const float* src, std::byte* dst, int64_t n);

// Per-channel: codes holds rows * cols * bits / 8 bytes (cols a multiple of 8);
// scale_zero holds 2 * rows fp16 values (d, m per row).
void dequantize_affine_per_channel(int bits, const std::byte* codes, const uint16_t* scale_zero, int64_t rows,
                                   int64_t cols, float* dst);

// Registry adapters: the (bits, group) of each row fixed at compile time.
template <int Bits, int Group>
void dequantize_row_affine(const std::byte* src, float* dst, int64_t n) {
  dequantize_affine(Bits, Group, src, dst, n);
}
template <int Bits, int Group>
void quantize_row_affine_ref(const float* src, std::byte* dst, int64_t n) {
  quantize_affine_ref(Bits, Group, src, dst, n);
}

// The pieces of the encoding the methods build on (quant/affine_native_methods).
namespace affine_codec {
// Step and offset as stored (fp16 bits) and as they decode.
struct Stored {
  uint16_t d_bits = 0, m_bits = 0;
  float d = 0.0f, m = 0.0f;
};
// (d, m) rounded to fp16, d clamped to 65504 so that it stays finite.
Stored store(float d, float m);
// Nearest integer in [0, qmax], halves to even; NaN maps to 0.
float nearest_code(float v, float qmax);
// The codes nearest to x for a decoded (d, m); all 0 when d is not positive.
void pick_codes(const float* x, int n, int qmax, float d, float m, uint8_t* q);
// The reference's (d, m) and codes for one block of n <= 256 weights.
Stored rtn_block(const float* x, int n, int qmax, uint8_t* q);
// Throw std::invalid_argument on bits outside 1..8, an unknown group size, or n not
// a whole number of groups.
void check_bits(int bits);
void check_group(int bits, int group, int64_t n);
// Writes one grouped block: d, m, then the packed codes.
void write_block(std::byte* block, const Stored& s, const uint8_t* codes, int group, int bits);
}  // namespace affine_codec

// "A4G64" / "A4PC", stored where a constexpr string_view can point at it.
constexpr std::array<char, 8> affine_native_name(int bits, int layout) {
  std::array<char, 8> s{};
  size_t k = 0;
  s[k++] = 'A';
  s[k++] = static_cast<char>('0' + bits);
  if (layout == kAffinePerChannelLayout) {
    s[k++] = 'P';
    s[k++] = 'C';
    return s;
  }
  s[k++] = 'G';
  const int group = kAffineGroups[size_t(layout)];
  if (group >= 100) s[k++] = static_cast<char>('0' + group / 100);
  s[k++] = static_cast<char>('0' + group / 10 % 10);
  s[k++] = static_cast<char>('0' + group % 10);
  return s;
}
template <int Bits, int Layout>
inline constexpr std::array<char, 8> kAffineNativeName = affine_native_name(Bits, Layout);

// The registry row of A<Bits>G<group> (Layout 0..4) or A<Bits>PC (Layout 5).
// The default method is search: it minimises L2, the error that matters downstream,
// and is never worse than rtn on it; hqq optimises an lp loss and gains less on L2.
template <int Bits, int Layout>
constexpr TypeTraits affine_native_traits() {
  static_assert(Bits >= kAffineMinBits && Bits <= kAffineMaxBits);
  const std::string_view name(kAffineNativeName<Bits, Layout>.data());
  if constexpr (Layout == kAffinePerChannelLayout) {
    return TypeTraits{.type = affine_native_dtype(Bits, Layout),
                      .name = name,
                      .block_size = kAffineCodesPerChannelBlock,
                      .block_bytes = size_t(Bits),
                      .in_ggml = false};
  } else {
    constexpr int G = kAffineGroups[size_t(Layout)];
    return TypeTraits{.type = affine_native_dtype(Bits, Layout),
                      .name = name,
                      .block_size = G,
                      .block_bytes = affine_block_bytes(Bits, G),
                      .in_ggml = false,
                      .to_float = dequantize_row_affine<Bits, G>,
                      .from_float = quantize_row_affine_ref<Bits, G>,
                      .vec_dot_type = DType::F32};
  }
}

}  // namespace lowbit
