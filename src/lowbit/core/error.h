// lowbit's one error type for bad input: every message names the file, the field and,
// where it applies, the byte offset, so a user can find the problem with a hex dump.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace lowbit {

// Raised for malformed or hostile input files and impossible requests.
// The CLI maps it to exit status 2.
class FormatError : public std::runtime_error {
 public:
  static constexpr uint64_t kNoOffset = ~uint64_t{0};

  FormatError(std::string file, std::string field, std::string problem, uint64_t offset = kNoOffset);

  const std::string& file() const { return file_; }
  const std::string& field() const { return field_; }
  uint64_t offset() const { return offset_; }

 private:
  std::string file_;
  std::string field_;
  uint64_t offset_;
};

// Raised when writing fails (disk full, permission denied); the output file is never
// left half-written.
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace lowbit
