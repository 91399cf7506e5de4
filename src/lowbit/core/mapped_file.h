// Read-only memory map of a whole file. Opening costs O(1) in the file size: pages
// are faulted in only when a reader touches them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace lowbit {

class MappedFile {
 public:
  // Throws FormatError if the path is missing, is a directory or cannot be mapped.
  static std::shared_ptr<const MappedFile> open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  const std::byte* data() const { return data_; }
  uint64_t size() const { return size_; }

  // Drops the resident pages wholly inside `range` (if it lies in this map) from the
  // process: they are re-read from the file if touched again. For weights that were
  // copied elsewhere (repacked), so they stop counting twice in resident memory.
  void release(std::span<const std::byte> range) const;

 private:
  MappedFile(std::string path, const std::byte* data, uint64_t size);
  std::string path_;
  const std::byte* data_;
  uint64_t size_;
};

}  // namespace lowbit
