#include "lowbit/core/atomic_file.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "lowbit/core/error.h"

namespace lowbit {
namespace {
constexpr size_t kBufferSize = 4 << 20;

[[noreturn]] void fail(const std::string& path, const char* what, int err) {
  throw IoError(path + ": " + what + ": " + std::strerror(err));
}
}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  std::vector<char> tmpl(path_.begin(), path_.end());
  const char suffix[] = ".tmp.XXXXXX";
  tmpl.insert(tmpl.end(), suffix, suffix + sizeof(suffix));  // includes the NUL
  fd_ = ::mkstemp(tmpl.data());
  if (fd_ < 0) fail(path_, "cannot create temporary output file", errno);
  tmp_path_ = tmpl.data();
  buf_.reserve(kBufferSize);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_path_.empty()) ::unlink(tmp_path_.c_str());
}

void AtomicFile::flush() {
  const char* p = buf_.data();
  size_t left = buf_.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(path_, "write failed", errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  buf_.clear();
}

void AtomicFile::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  written_ += n;
  while (n > 0) {
    size_t room = kBufferSize - buf_.size();
    size_t k = n < room ? n : room;
    buf_.append(p, k);
    p += k;
    n -= k;
    if (buf_.size() == kBufferSize) flush();
  }
}

void AtomicFile::write_zeros(size_t n) {
  static const char zeros[4096] = {};
  while (n > 0) {
    size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
    write(zeros, k);
    n -= k;
  }
}

void AtomicFile::commit() {
  flush();
  if (::fsync(fd_) != 0) fail(path_, "fsync failed", errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail(path_, "close failed", errno);
  }
  fd_ = -1;
  ::chmod(tmp_path_.c_str(), 0644);
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) fail(path_, "rename failed", errno);
  committed_ = true;
}

}  // namespace lowbit
