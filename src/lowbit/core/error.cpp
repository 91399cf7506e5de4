#include "lowbit/core/error.h"

namespace lowbit {
namespace {

std::string compose(const std::string& file, const std::string& field, const std::string& problem, uint64_t offset) {
  std::string msg = file + ": " + field + ": " + problem;
  if (offset != FormatError::kNoOffset) msg += " (at byte offset " + std::to_string(offset) + ")";
  return msg;
}

}  // namespace

FormatError::FormatError(std::string file, std::string field, std::string problem, uint64_t offset)
    : std::runtime_error(compose(file, field, problem, offset)),
      file_(std::move(file)),
      field_(std::move(field)),
      offset_(offset) {}

}  // namespace lowbit
