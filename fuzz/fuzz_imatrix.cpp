// libFuzzer target: importance-matrix files of either format (legacy .dat, GGUF) must
// become either a matrix or a FormatError, never a crash, a hang or a huge allocation.
#include <cstddef>
#include <cstdint>
#include <span>

#include "lowbit/core/error.h"
#include "lowbit/io/imatrix_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const lowbit::ImportanceMatrix m = lowbit::parse_imatrix(std::as_bytes(std::span(data, size)), "fuzz.imatrix");
    double sum = 0;
    for (const auto& [name, e] : m.entries)
      for (float w : e.mean_squares()) sum += w;
    if (sum < 0) return 1;  // keeps the loop from being optimized away
  } catch (const lowbit::FormatError&) {
  }
  return 0;
}
