// The interleaved formats' table, the repacking, the activation packing and the
// scalar reference kernels (the specification the SIMD ones are tested against).
#include "lowbit/kernels/interleaved.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/kquant_common.h"
#include "lowbit/formats/q8_0.h"
#include "lowbit/formats/registry.h"

namespace lowbit {
namespace {

constexpr int kActBlock = 32;  // activations: one scale per 32

inline float half_at(const uint8_t* p, int r) {
  uint16_t h;
  std::memcpy(&h, p + 2 * r, 2);
  return fp16_to_fp32(h);
}

// Byte i (0..3) of dword j of row r in a tile's transposed codes.
inline uint8_t code_byte(const uint8_t* qs, int r, int j, int i) { return qs[32 * j + 4 * r + i]; }

// Where tile b of group k (0 or 1) of a pair (or lone group) starts.
inline size_t tile_at(int n_groups, int64_t b, int k, size_t tile_bytes) {
  return (n_groups == 2 ? size_t(2 * b + k) : size_t(b)) * tile_bytes;
}

// The loops shared by the references: for each group, token, row and tile,
// tile_term(tile, r, y, da, sum) gives the tile's float term from the token's codes y,
// block scales da and block sums (all starting at the tile's first column).
template <typename TileTerm>
void reference_gemm(const InterleavedTraits& k, int64_t cols, const std::byte* pair, int n_groups,
                    const InterleavedActs* acts, int n_tokens, float* out, size_t out_stride, TileTerm tile_term) {
  const int64_t tiles = cols / k.block_size, per_tile = k.block_size / kActBlock;
  for (int g = 0; g < n_groups; ++g)
    for (int t = 0; t < n_tokens; ++t)
      for (int r = 0; r < kInterleavedRows; ++r) {
        float acc = 0.0f;
        for (int64_t b = 0; b < tiles; ++b) {
          const auto* tile = reinterpret_cast<const uint8_t*>(pair) + tile_at(n_groups, b, g, k.tile_bytes());
          acc +=
              tile_term(tile, r, acts[t].qs + b * k.block_size, acts[t].d + b * per_tile, acts[t].sum + b * per_tile);
        }
        out[size_t(t) * out_stride + size_t(g * kInterleavedRows + r)] = acc;
      }
}

// The integer dot of one 32-block with y, code(e) giving the block's element e.
template <typename Code>
int32_t block_dot(const int8_t* y, Code code) {
  int32_t isum = 0;
  for (int e = 0; e < 32; ++e) isum += code(e) * int32_t{y[e]};
  return isum;
}

// Q4_0 / Q4_1 element e of row r: the low nibble of dword e / 4 for e < 16, else the
// high nibble of dword (e - 16) / 4.
inline int legacy_nibble(const uint8_t* qs, int r, int e) {
  const int f = e % 16;
  const uint8_t byte = code_byte(qs, r, f / 4, f % 4);
  return e < 16 ? byte & 0x0F : byte >> 4;
}

constexpr size_t kLegacyHeader = kTilesQ4_0.header_bytes, kQ4_1Header = kTilesQ4_1.header_bytes,
                 kQ4KHeader = kTilesQ4_K.header_bytes;

void q4_0_reference(int64_t cols, const std::byte* pair, int n_groups, const InterleavedActs* acts, int n_tokens,
                    float* out, size_t out_stride);
void q4_1_reference(int64_t cols, const std::byte* pair, int n_groups, const InterleavedActs* acts, int n_tokens,
                    float* out, size_t out_stride);
void q8_0_reference(int64_t cols, const std::byte* pair, int n_groups, const InterleavedActs* acts, int n_tokens,
                    float* out, size_t out_stride);
void q4_k_reference(int64_t cols, const std::byte* pair, int n_groups, const InterleavedActs* acts, int n_tokens,
                    float* out, size_t out_stride);

// ggml blocks' fp16 fields d (and m / dmin) at the block's start: one per row.
void halves_header(const uint8_t* block, int r, uint8_t* tile, int fields) {
  for (int f = 0; f < fields; ++f) std::memcpy(tile + 16 * f + 2 * r, block + 2 * f, 2);
}
void one_half(const uint8_t* block, int r, uint8_t* tile) { halves_header(block, r, tile, 1); }
void two_halves(const uint8_t* block, int r, uint8_t* tile) { halves_header(block, r, tile, 2); }
// Q4_K: d and dmin, then the 8 sub-block scales and mins unpacked from 12 bytes.
void q4_k_header(const uint8_t* block, int r, uint8_t* tile) {
  halves_header(block, r, tile, 2);
  for (int s = 0; s < 8; ++s) kquant::get_scale_min_k4(s, block + 4, &tile[32 + 8 * s + r], &tile[96 + 8 * s + r]);
}

constexpr std::array kTable = {
    InterleavedTraits{DType::Q4_0, 32, kTilesQ4_0.header_bytes, kTilesQ4_0.code_bytes, 2, one_half, q4_0_reference,
                      interleaved_simd::q4_0},
    InterleavedTraits{DType::Q4_1, 32, kTilesQ4_1.header_bytes, kTilesQ4_1.code_bytes, 4, two_halves, q4_1_reference,
                      interleaved_simd::q4_1},
    InterleavedTraits{DType::Q8_0, 32, kTilesQ8_0.header_bytes, kTilesQ8_0.code_bytes, 2, one_half, q8_0_reference,
                      interleaved_simd::q8_0},
    InterleavedTraits{DType::Q4_K, 256, kTilesQ4_K.header_bytes, kTilesQ4_K.code_bytes, 16, q4_k_header, q4_k_reference,
                      interleaved_simd::q4_k},
};

void q4_0_reference(int64_t cols, const std::byte* pair, int n_groups, const InterleavedActs* acts, int n_tokens,
                    float* out, size_t out_stride) {
  reference_gemm(kTable[0], cols, pair, n_groups, acts, n_tokens, out, out_stride,
                 [](const uint8_t* tile, int r, const int8_t* y, const float* da, const int32_t* sum) {
                   const int32_t isum = block_dot(y, [&](int e) { return legacy_nibble(tile + kLegacyHeader, r, e); });
                   return half_at(tile, r) * da[0] * float(isum - 8 * sum[0]);
                 });
}

void q4_1_reference(int64_t cols, const std::byte* pair, int n_groups, const InterleavedActs* acts, int n_tokens,
                    float* out, size_t out_stride) {
  reference_gemm(kTable[1], cols, pair, n_groups, acts, n_tokens, out, out_stride,
                 [](const uint8_t* tile, int r, const int8_t* y, const float* da, const int32_t* sum) {
                   const int32_t isum = block_dot(y, [&](int e) { return legacy_nibble(tile + kQ4_1Header, r, e); });
                   return half_at(tile, r) * da[0] * float(isum) + half_at(tile + 16, r) * da[0] * float(sum[0]);
                 });
}

void q8_0_reference(int64_t cols, const std::byte* pair, int n_groups, const InterleavedActs* acts, int n_tokens,
                    float* out, size_t out_stride) {
  reference_gemm(kTable[2], cols, pair, n_groups, acts, n_tokens, out, out_stride,
                 [](const uint8_t* tile, int r, const int8_t* y, const float* da, const int32_t*) {
                   const int32_t isum = block_dot(y, [&](int e) {
                     return int{static_cast<int8_t>(code_byte(tile + kLegacyHeader, r, e / 4, e % 4))};
                   });
                   return half_at(tile, r) * da[0] * float(isum);
                 });
}

// x = d * sc[s] * q - dmin * m[s] for sub-block s (32 weights, one activation block).
void q4_k_reference(int64_t cols, const std::byte* pair, int n_groups, const InterleavedActs* acts, int n_tokens,
                    float* out, size_t out_stride) {
  reference_gemm(kTable[3], cols, pair, n_groups, acts, n_tokens, out, out_stride,
                 [](const uint8_t* tile, int r, const int8_t* y, const float* da, const int32_t* sum) {
                   const float d = half_at(tile, r), dmin = half_at(tile + 16, r);
                   float term = 0.0f;
                   for (int s = 0; s < 8; ++s) {
                     // Sub-block s = 2p + h: nibble h of dwords 8p..8p+7.
                     const int p = s / 2, h = s % 2;
                     const int32_t isum = block_dot(y + 32 * s, [&](int e) {
                       const uint8_t byte = code_byte(tile + kQ4KHeader, r, 8 * p + e / 4, e % 4);
                       return h == 0 ? byte & 0x0F : byte >> 4;
                     });
                     const float sc = float(tile[32 + 8 * s + r]), m = float(tile[96 + 8 * s + r]);
                     term += d * sc * da[s] * float(isum) - dmin * m * da[s] * float(sum[s]);
                   }
                   return term;
                 });
}

}  // namespace

const InterleavedTraits* find_interleaved(DType type) {
  for (const auto& k : kTable)
    if (k.type == type) return &k;
  return nullptr;
}

std::span<const InterleavedTraits> all_interleaved() { return kTable; }

bool use_interleaved(DType type, int64_t rows, int64_t cols) {
  const InterleavedTraits* k = find_interleaved(type);
  return k != nullptr && k->simd() != nullptr && rows > 0 && rows % kInterleavedRows == 0 && cols > 0 &&
         cols % k->block_size == 0;
}

size_t interleaved_bytes(const InterleavedTraits& k, int64_t rows, int64_t cols) {
  return size_t(rows / kInterleavedRows) * size_t(cols / k.block_size) * k.tile_bytes();
}

size_t interleaved_pair_offset(const InterleavedTraits& k, int64_t cols, int64_t pair) {
  return size_t(pair) * 2 * size_t(cols / k.block_size) * k.tile_bytes();
}

void repack_interleaved(const InterleavedTraits& k, const std::byte* src, int64_t rows, int64_t cols,
                        int64_t pair_begin, int64_t pair_end, std::byte* dst) {
  const size_t block_bytes = traits(k.type).block_bytes;
  const int64_t tiles = cols / k.block_size, groups = rows / kInterleavedRows;
  const size_t row_bytes = size_t(tiles) * block_bytes, dwords = k.code_bytes / 32;
  for (int64_t p = pair_begin; p < pair_end; ++p) {
    const int n_groups = int(std::min<int64_t>(2, groups - 2 * p));
    auto* pair = reinterpret_cast<uint8_t*>(dst) + interleaved_pair_offset(k, cols, p);
    for (int g = 0; g < n_groups; ++g)
      for (int64_t b = 0; b < tiles; ++b) {
        uint8_t* tile = pair + tile_at(n_groups, b, g, k.tile_bytes());
        for (int r = 0; r < kInterleavedRows; ++r) {
          const auto* block = reinterpret_cast<const uint8_t*>(src) +
                              size_t((2 * p + g) * kInterleavedRows + r) * row_bytes + size_t(b) * block_bytes;
          k.header(block, r, tile);
          for (size_t j = 0; j < dwords; ++j)
            std::memcpy(tile + k.header_bytes + 32 * j + 4 * size_t(r), block + k.qs_offset + 4 * j, 4);
        }
      }
  }
}

void pack_interleaved_acts(const float* x, int64_t cols, int8_t* qs, float* d, int32_t* sum) {
  const TypeTraits& q8 = traits(DType::Q8_0);
  for (int64_t b = 0; b < cols / kActBlock; ++b) {
    BlockQ8_0 block;
    q8.encoder()(x + b * kActBlock, reinterpret_cast<std::byte*>(&block), kActBlock);
    std::memcpy(qs + b * kActBlock, block.qs, kActBlock);
    d[b] = fp16_to_fp32(block.d);
    int32_t s = 0;
    for (int8_t v : block.qs) s += v;
    sum[b] = s;
  }
}

}  // namespace lowbit
