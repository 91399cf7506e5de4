// An importance matrix (llama.cpp's "imatrix"): for every weight matrix, the sum over the
// calibration tokens of each input column's squared activation, and how many token rows
// were summed. Quantizers weight each column's error by sum / count, the mean squared
// input that column of the matrix sees, so the columns that carry large activations are
// kept more exactly. io/imatrix_file reads and writes llama.cpp's two file formats.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lowbit {

struct ImatrixEntry {
  std::vector<double> sum2;  // per input column: sum of x^2 over the rows seen
  int64_t count = 0;         // token rows summed
  int64_t calls = 0;         // matrix products they came in (llama.cpp's ncall)

  // The weights a quantizer uses: sum2 / count per column (empty when count is 0).
  std::vector<float> mean_squares() const;
};

struct ImportanceMatrix {
  std::map<std::string, ImatrixEntry> entries;  // by weight tensor name
  std::vector<std::string> datasets;            // calibration text files
  int64_t chunk_count = 0;                      // chunks of text run
  int64_t chunk_size = 0;                       // tokens per chunk (0 where a file does not say)

  // Adds another matrix's sums, counts, chunks and datasets (llama-imatrix's --in-file);
  // throws std::invalid_argument naming the tensor when the column counts differ.
  void add(const ImportanceMatrix& other);
};

}  // namespace lowbit
