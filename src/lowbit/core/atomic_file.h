// Output that appears only when complete: data goes to "PATH.tmp.XXXXXX" beside the
// target and is renamed over PATH by commit(). If commit() is never reached (an error,
// a full disk, an exception), the destructor removes the temporary file, so a failed
// run never leaves a half-written model behind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace lowbit {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // throws IoError if the temp file cannot be created
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Buffered writes; throw IoError naming the target path on failure (e.g. ENOSPC).
  void write(const void* data, size_t n);
  void write(std::span<const std::byte> bytes) { write(bytes.data(), bytes.size()); }
  void write_zeros(size_t n);
  uint64_t bytes_written() const { return written_; }

  // Flushes, fsyncs and renames the temp file onto the target path.
  void commit();

  const std::string& path() const { return path_; }

 private:
  void flush();
  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  bool committed_ = false;
  uint64_t written_ = 0;
  std::string buf_;
};

}  // namespace lowbit
