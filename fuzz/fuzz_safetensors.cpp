// libFuzzer target for the safetensors reader: any input must either parse into
// tensors whose byte spans lie inside the input, or throw lowbit::FormatError. Any
// other exception, a sanitizer report, a hang or a large allocation is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "lowbit/core/error.h"
#include "lowbit/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const lowbit::SafetensorsFile file = lowbit::SafetensorsFile::parse(bytes, "fuzz-input");
    // Reading every byte lets AddressSanitizer catch a span that escapes the input.
    unsigned sum = 0;
    for (const auto& t : file.tensors()) {
      for (std::byte b : t.data) sum += static_cast<unsigned>(b);
      if (file.find(t.name) != &t) __builtin_trap();
    }
    volatile unsigned sink = sum;
    (void)sink;
  } catch (const lowbit::FormatError&) {
  }
  return 0;
}
