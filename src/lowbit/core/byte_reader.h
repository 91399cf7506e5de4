// Bounds-checked little-endian reads from a byte span. Every read checks the remaining
// length first, so a hostile count or offset becomes a FormatError naming the file,
// the field and the offset, never an out-of-bounds access or a huge allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "lowbit/core/error.h"

namespace lowbit {

class ByteReader {
 public:
  ByteReader(std::span<const std::byte> bytes, std::string file) : bytes_(bytes), file_(std::move(file)) {}

  uint64_t offset() const { return pos_; }
  uint64_t size() const { return bytes_.size(); }
  uint64_t remaining() const { return bytes_.size() - pos_; }
  const std::string& file() const { return file_; }

  // Throws unless n more bytes are available at the current offset.
  void require(uint64_t n, std::string_view field) const {
    if (n > remaining())
      fail(field, "needs " + std::to_string(n) + " bytes but only " + std::to_string(remaining()) +
                      " remain (file truncated?)");
  }

  template <typename T>
  T read(std::string_view field) {
    static_assert(std::is_trivially_copyable_v<T>);
    require(sizeof(T), field);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::span<const std::byte> take(uint64_t n, std::string_view field) {
    require(n, field);
    auto s = bytes_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  std::string_view take_string(uint64_t n, std::string_view field) {
    auto s = take(n, field);
    return {reinterpret_cast<const char*>(s.data()), s.size()};
  }

  void seek(uint64_t pos, std::string_view field) {
    if (pos > bytes_.size())
      fail(field, "offset " + std::to_string(pos) + " is past the end of the file (" + std::to_string(bytes_.size()) +
                      " bytes)");
    pos_ = pos;
  }

  [[noreturn]] void fail(std::string_view field, const std::string& problem) const {
    throw FormatError(file_, std::string(field), problem, pos_);
  }
  [[noreturn]] void fail_at(uint64_t at, std::string_view field, const std::string& problem) const {
    throw FormatError(file_, std::string(field), problem, at);
  }

 private:
  std::span<const std::byte> bytes_;
  std::string file_;
  uint64_t pos_ = 0;
};

// a*b, or false if it overflows uint64.
inline bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }
inline bool checked_add(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }

}  // namespace lowbit
