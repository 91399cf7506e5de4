// The interleaved formats' table, the repacking, the activation packing and the
// scalar reference kernels (the specification the SIMD ones are tested against).
#include "lowbit/kernels/interleaved.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "lowbit/core/float_bits.h"
#include "lowbit/formats/q8_0.h"
#include "lowbit/formats/registry.h"

namespace lowbit {
namespace {

constexpr int kBlock = 32;

inline float half_at(const uint8_t* p, int r) {
  uint16_t h;
  std::memcpy(&h, p + 2 * r, 2);
  return fp16_to_fp32(h);
}

// The 4-bit code of element i (0..31) of row r in a tile's transposed nibbles.
inline int nibble(const uint8_t* qs, int r, int i) {
  const int e = i % 16;
  const uint8_t byte = qs[32 * (e / 4) + 4 * r + e % 4];
  return i < 16 ? byte & 0x0F : byte >> 4;
}

// The tile loops shared by the references: per row and block, the integer dot of the
// codes with the activations, then `block` turns it into the block's float term.
// Where tile b of group k (0 or 1) of a pair (or lone group) starts.
inline size_t tile_at(int n_groups, int64_t b, int k, size_t tile_bytes) {
  return (n_groups == 2 ? size_t(2 * b + k) : size_t(b)) * tile_bytes;
}

template <size_t kHeader, size_t kCodes, typename Code, typename Block>
void reference_gemm(int64_t cols, const std::byte* pair, int n_groups, const InterleavedActs* acts, int n_tokens,
                    float* out, size_t out_stride, Code code, Block block) {
  const int64_t nb = cols / kBlock;
  for (int g = 0; g < n_groups; ++g)
    for (int t = 0; t < n_tokens; ++t)
      for (int r = 0; r < kInterleavedRows; ++r) {
        float acc = 0.0f;
        for (int64_t b = 0; b < nb; ++b) {
          const auto* tile = reinterpret_cast<const uint8_t*>(pair) + tile_at(n_groups, b, g, kHeader + kCodes);
          const int8_t* y = acts[t].qs + b * kBlock;
          int32_t isum = 0;
          for (int i = 0; i < kBlock; ++i) isum += code(tile + kHeader, r, i) * int32_t{y[i]};
          acc += block(tile, r, isum, acts[t].d[b], acts[t].sum[b]);
        }
        out[size_t(t) * out_stride + size_t(g * kInterleavedRows + r)] = acc;
      }
}

#define LOWBIT_REFERENCE_ARGS \
  int64_t cols, const std::byte *pair, int n_groups, const InterleavedActs *acts, int n_tokens, float *out, size_t out_stride
#define LOWBIT_REFERENCE_PASS cols, pair, n_groups, acts, n_tokens, out, out_stride

void q4_0_reference(LOWBIT_REFERENCE_ARGS) {
  reference_gemm<16, 128>(LOWBIT_REFERENCE_PASS, nibble, [](const uint8_t* tile, int r, int32_t isum, float da, int32_t sum) {
    return half_at(tile, r) * da * float(isum - 8 * sum);
  });
}

void q4_1_reference(LOWBIT_REFERENCE_ARGS) {
  reference_gemm<32, 128>(LOWBIT_REFERENCE_PASS, nibble, [](const uint8_t* tile, int r, int32_t isum, float da, int32_t sum) {
    return half_at(tile, r) * da * float(isum) + half_at(tile + 16, r) * da * float(sum);
  });
}

void q8_0_reference(LOWBIT_REFERENCE_ARGS) {
  reference_gemm<16, 256>(
      LOWBIT_REFERENCE_PASS,
      [](const uint8_t* qs, int r, int i) { return int{static_cast<int8_t>(qs[32 * (i / 4) + 4 * r + i % 4])}; },
      [](const uint8_t* tile, int r, int32_t isum, float da, int32_t) { return half_at(tile, r) * da * float(isum); });
}
#undef LOWBIT_REFERENCE_ARGS
#undef LOWBIT_REFERENCE_PASS

constexpr std::array kTable = {
    InterleavedTraits{DType::Q4_0, 16, 128, q4_0_reference, interleaved_simd::q4_0},
    InterleavedTraits{DType::Q4_1, 32, 128, q4_1_reference, interleaved_simd::q4_1},
    InterleavedTraits{DType::Q8_0, 16, 256, q8_0_reference, interleaved_simd::q8_0},
};

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
         cols % kBlock == 0;
}

size_t interleaved_bytes(const InterleavedTraits& k, int64_t rows, int64_t cols) {
  return size_t(rows / kInterleavedRows) * size_t(cols / kBlock) * k.tile_bytes();
}

size_t interleaved_pair_offset(const InterleavedTraits& k, int64_t cols, int64_t pair) {
  return size_t(pair) * 2 * size_t(cols / kBlock) * k.tile_bytes();
}

void repack_interleaved(const InterleavedTraits& k, const std::byte* src, int64_t rows, int64_t cols,
                        int64_t pair_begin, int64_t pair_end, std::byte* dst) {
  const TypeTraits& tt = traits(k.type);
  const int64_t nb = cols / kBlock, groups = rows / kInterleavedRows;
  const size_t block_bytes = tt.block_bytes, row_bytes = size_t(nb) * block_bytes;
  const size_t fields = k.header_bytes / 16;  // fp16 fields at the start of a block: d (and m)
  const size_t qs_at = 2 * fields, dwords = k.code_bytes / 32;
  for (int64_t p = pair_begin; p < pair_end; ++p) {
    const int n_groups = int(std::min<int64_t>(2, groups - 2 * p));
    auto* pair = reinterpret_cast<uint8_t*>(dst) + interleaved_pair_offset(k, cols, p);
    for (int g = 0; g < n_groups; ++g)
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* out = pair + tile_at(n_groups, b, g, k.tile_bytes());
        for (int r = 0; r < kInterleavedRows; ++r) {
          const auto* block = reinterpret_cast<const uint8_t*>(src) +
                              size_t((2 * p + g) * kInterleavedRows + r) * row_bytes + size_t(b) * block_bytes;
          for (size_t f = 0; f < fields; ++f) std::memcpy(out + 16 * f + 2 * size_t(r), block + 2 * f, 2);
          for (size_t j = 0; j < dwords; ++j)
            std::memcpy(out + k.header_bytes + 32 * j + 4 * size_t(r), block + qs_at + 4 * j, 4);
        }
      }
  }
}

void pack_interleaved_acts(const float* x, int64_t cols, int8_t* qs, float* d, int32_t* sum) {
  const TypeTraits& q8 = traits(DType::Q8_0);
  for (int64_t b = 0; b < cols / kBlock; ++b) {
    BlockQ8_0 block;
    q8.from_float(x + b * kBlock, reinterpret_cast<std::byte*>(&block), kBlock);
    std::memcpy(qs + b * kBlock, block.qs, kBlock);
    d[b] = fp16_to_fp32(block.d);
    int32_t s = 0;
    for (int8_t v : block.qs) s += v;
    sum[b] = s;
  }
}

}  // namespace lowbit
