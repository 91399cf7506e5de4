// Output that appears only when complete. On Linux the data goes to an unnamed file
// (O_TMPFILE) in the target's directory, which the kernel frees however the process
// ends, SIGKILL included; commit() then links it in as PATH. Where the filesystem has
// no unnamed files, data goes to "PATH.tmp.XXXXXX" beside the target, renamed over PATH
// by commit(). If commit() is never reached (an error, a full disk, an exception), the
// destructor drops the temporary file, so a failed run never leaves a half-written
// model behind; only a process killed outright while using the named fallback does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace lowbit {

class AtomicFile {
 public:
  // Named forces the "PATH.tmp.XXXXXX" scheme (for tests); Unnamed falls back to it
  // where O_TMPFILE is unsupported.
  enum class Temp { Unnamed, Named };

  // Throws IoError if the temp file cannot be created.
  explicit AtomicFile(std::string path, Temp temp = Temp::Unnamed);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Buffered writes; throw IoError naming the target path on failure (e.g. ENOSPC).
  void write(const void* data, size_t n);
  void write(std::span<const std::byte> bytes) { write(bytes.data(), bytes.size()); }
  void write_zeros(size_t n);
  uint64_t bytes_written() const { return written_; }

  // Flushes, fsyncs and gives the temp file the target path, replacing what was there.
  void commit();

  const std::string& path() const { return path_; }
  // True when the data goes to an unnamed (O_TMPFILE) file, which has no name until commit().
  bool unnamed() const { return tmp_path_.empty(); }

 private:
  void flush();
  void link_unnamed();
  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  bool committed_ = false;
  uint64_t written_ = 0;
  std::string buf_;
};

}  // namespace lowbit
