// llama.cpp's importance-matrix files, both ways, so that users keep the files they have
// and llama-quantize takes lowbit's.
//
// Legacy (".dat", llama-imatrix before its GGUF format), little-endian:
//   int32 n_entries (>= 1)
//   per entry: int32 name length, the name, int32 ncall, int32 nval (>= 1),
//              float32 values[nval] = (sum of x^2 / rows) * ncall per column
//   optionally: int32 chunk count, int32 length + the dataset's file name
// so a column's weight is values / ncall, the mean squared input.
//
// GGUF (llama-imatrix's since 2025): general.type = "imatrix", imatrix.datasets (array of
// strings), imatrix.chunk_count and imatrix.chunk_size (uint32; llama-quantize requires
// all three) and no architecture; per matrix, by name in byte order, two F32 tensors:
// "<name>.in_sum2" {columns}, the raw sums of x^2, and "<name>.counts" {1}, the rows
// summed; weight = in_sum2 / counts. (An expert stack, {columns, experts} and
// {1, experts}, is refused: lowbit runs no mixture-of-experts model.)
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "lowbit/model/imatrix.h"

namespace lowbit {

enum class ImatrixFormat { Legacy, Gguf };

// As llama-imatrix chooses: ".dat" is the legacy format, anything else GGUF.
ImatrixFormat imatrix_format_for(const std::string& path);

// Reads either format (told apart by the GGUF magic). Throws FormatError naming the file,
// the field and the offset for anything malformed: truncation, negative or huge counts,
// a name too long, values that are not finite, a GGUF file that is not an imatrix.
ImportanceMatrix read_imatrix(const std::string& path);
// The same from bytes in memory (the fuzz target's entry): GGUF or legacy by the magic.
ImportanceMatrix parse_imatrix(std::span<const std::byte> bytes, const std::string& name_for_errors);
ImportanceMatrix parse_legacy_imatrix(std::span<const std::byte> bytes, const std::string& name_for_errors);

// Writes atomically (nothing at `path` unless complete). The legacy format cannot hold
// a matrix whose rows were never counted; such entries are left out, as llama-imatrix does.
void write_imatrix(const std::string& path, const ImportanceMatrix& matrix, ImatrixFormat format);

// True when `path` holds an importance matrix of either format (a cheap look at its
// start; read_imatrix still checks everything).
bool looks_like_imatrix(const std::string& path);

}  // namespace lowbit
