// Row-interleaved weights: matmul's fast path for the 32-weight block formats Q4_0,
// Q4_1 and Q8_0 on CPUs that have it (x86 with AVX2 or AVX-512).
//
// A plain row-wise dot product spends most of its instructions on bookkeeping per
// block (one fp16 scale, one horizontal sum, one activation load per 32 weights). With
// 8 rows interleaved, the integer products of 8 rows land in the 8 int32 lanes of one
// register: one activation load (4 bytes, broadcast) serves 8 rows, the 8 scales are
// converted by one instruction, and no horizontal sum is needed until the end. This is
// also how llama.cpp runs Q4_0 on these CPUs (its "repacked" Q4_0x8 buffers). The
// repacked copy lives in memory only; files always keep ggml's layout.
//
// Layout of a repacked matrix: rows in groups of 8 (rows % 8 == 0), groups in pairs.
// A tile holds one block column (32 weights, 256 for Q4_K) of one group's 8 rows:
//   uint16 d[8]        the rows' fp16 scales
//   uint16 m[8]        Q4_1: the rows' fp16 offsets; Q4_K: the rows' fp16 dmin
//   uint8  sc[8][8]    Q4_K only: sub-block s's 6-bit scale of row r at 8 s + r
//   uint8  mn[8][8]    Q4_K only: the same for the 6-bit mins
//   uint8  qs[32 * k]  the rows' code bytes, dword-transposed: dword j of row r's qs
//                      at byte 32 j + 4 r (k = 4 for Q4_0/Q4_1, 8 for Q8_0, 32 for Q4_K)
// Pair p (groups 2p and 2p + 1) takes 2 * cols / block tiles from byte p * 2 * group
// bytes on, alternating: tile (2p, b), tile (2p + 1, b), tile (2p, b + 1)... so one
// thread reads one pair as one sequential stream. A lone last group (odd group count)
// has its tiles in order.
// The 32-byte vector j of a tile holds 4 consecutive code bytes of every row: for
// Q4_0/Q4_1 the low nibbles are elements 4j..4j+3 and the high nibbles 16+4j..16+4j+3;
// for Q8_0 the bytes are elements 4j..4j+3; for Q4_K (ggml's qs order) vector j = 8p + i
// holds elements 64p + 4i.. (low nibbles) and 64p + 32 + 4i.. (high nibbles).
//
// Activations are Q8_0 numbers for every format (d = max|x| / 127, codes = round(x /
// d), as ggml's quantize_row_q8_0; finer than Q8_K's one scale per 256 that ggml pairs
// with Q4_K) kept as separate arrays per token, with each 32-block's code sum:
//   y = d[b] * qs[32 b + i],   sum[b] = sum_i qs[32 b + i].
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lowbit/formats/dtype.h"

namespace lowbit {

inline constexpr int kInterleavedRows = 8;

// One token's activations, packed for the interleaved kernels.
struct InterleavedActs {
  const int8_t* qs;    // cols codes
  const float* d;      // cols / 32 block scales
  const int32_t* sum;  // cols / 32 block code sums
};

// One pair of groups (n_groups = 2) or a lone group (n_groups = 1) starting at `pair`:
// out[t * out_stride + 8 k + r] = dot(row r of group k, token t) for r < 8, t <
// n_tokens (n_tokens <= kInterleavedMaxTokens).
inline constexpr int kInterleavedMaxTokens = 4;
using InterleavedGemmFn = void (*)(int64_t cols, const std::byte* pair, int n_groups, const InterleavedActs* acts,
                                   int n_tokens, float* out, size_t out_stride);

// Geometry of each repacked layout: per tile of 8 rows × one block, a header (the rows'
// scales and offsets) and the rows' codes. The table rows (interleaved.cpp), their
// reference kernels and the SIMD kernels' compile-time tile walk all read it from here.
struct TileLayout {
  DType type;
  size_t header_bytes;
  size_t code_bytes;
  bool nibbles;  // 4-bit codes (else one byte each)
  constexpr size_t tile_bytes() const { return header_bytes + code_bytes; }
};
inline constexpr TileLayout kTilesQ4_0{DType::Q4_0, 16, 128, true};
inline constexpr TileLayout kTilesQ4_1{DType::Q4_1, 32, 128, true};
inline constexpr TileLayout kTilesQ8_0{DType::Q8_0, 16, 256, false};
// Q4_K: d and dmin, then the 8 sub-block scales and mins, each as 8 rows' bytes.
inline constexpr TileLayout kTilesQ4_K{DType::Q4_K, 32 + 128, 1024, true};

struct InterleavedTraits {
  DType type;
  int block_size;       // columns per tile: the format's block
  size_t header_bytes;  // per tile: scales (and offsets)
  size_t code_bytes;    // per tile: 8 rows' codes
  size_t qs_offset;     // where a ggml block's code bytes start
  // Writes row r's scales of one ggml block into the tile header.
  void (*header)(const uint8_t* block, int r, uint8_t* tile);
  InterleavedGemmFn gemm_ref;   // plain scalar code: the specification
  InterleavedGemmFn (*simd)();  // the SIMD kernel for the CPU's best target, or nullptr
  size_t tile_bytes() const { return header_bytes + code_bytes; }
};

// The format's interleaved traits, or nullptr if it has none.
const InterleavedTraits* find_interleaved(DType type);
std::span<const InterleavedTraits> all_interleaved();
// Whether matmul should repack a weight of this type and shape on this CPU: a format
// with a kernel here, rows in groups of 8, whole blocks per row.
bool use_interleaved(DType type, int64_t rows, int64_t cols);

// Bytes of the repacked copy of a rows × cols matrix.
size_t interleaved_bytes(const InterleavedTraits& k, int64_t rows, int64_t cols);
// Repacks the row-group pairs [pair_begin, pair_end) of src (rows × cols in ggml
// blocks) into dst (the whole repacked matrix).
void repack_interleaved(const InterleavedTraits& k, const std::byte* src, int64_t rows, int64_t cols,
                        int64_t pair_begin, int64_t pair_end, std::byte* dst);
// Pairs of groups in a matrix of `rows`, and where pair p starts in the repacked bytes.
inline int64_t interleaved_pairs(int64_t rows) { return (rows / 8 + 1) / 2; }
size_t interleaved_pair_offset(const InterleavedTraits& k, int64_t cols, int64_t pair);

// Packs one token of cols floats: codes into qs (cols bytes), scales and sums into d
// and sum (cols / 32 each).
void pack_interleaved_acts(const float* x, int64_t cols, int8_t* qs, float* d, int32_t* sum);

namespace interleaved_simd {
// The runtime-dispatched kernels (interleaved_simd.cpp); nullptr on CPUs without one.
// Looked up on each call, so tests can switch targets.
InterleavedGemmFn q4_0();
InterleavedGemmFn q4_1();
InterleavedGemmFn q8_0();
InterleavedGemmFn q4_k();
}  // namespace interleaved_simd

}  // namespace lowbit
