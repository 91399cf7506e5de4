#include "lowbit/core/atomic_file.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <random>
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

#ifdef O_TMPFILE
// The directory an unnamed file for `path` must live in: link() cannot cross filesystems.
std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string proc_fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// Gives the unnamed file open at fd the name `to`; false with errno set if it cannot.
bool link_fd(int fd, const std::string& to) {
  // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH on older kernels; /proc works for anyone.
  if (::linkat(fd, "", AT_FDCWD, to.c_str(), AT_EMPTY_PATH) == 0) return true;
  if (errno == EEXIST) return false;
  return ::linkat(AT_FDCWD, proc_fd_path(fd).c_str(), AT_FDCWD, to.c_str(), AT_SYMLINK_FOLLOW) == 0;
}

std::string random_suffix() {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::string s(6, 'X');
  for (char& c : s) c = kChars[rd() % (sizeof(kChars) - 1)];
  return s;
}
#endif
}  // namespace

AtomicFile::AtomicFile(std::string path, Temp temp) : path_(std::move(path)) {
#ifdef O_TMPFILE
  if (temp == Temp::Unnamed) {
    fd_ = ::open(directory_of(path_).c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
    // These say the filesystem (or kernel) has no unnamed files; any other error would
    // hit a named temporary just the same.
    if (fd_ < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
      fail(path_, "cannot create temporary output file", errno);
    // Without /proc an unprivileged commit could not link the file: better to know now
    // than after hours of quantizing.
    if (fd_ >= 0 && ::faccessat(AT_FDCWD, proc_fd_path(fd_).c_str(), F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
#else
  (void)temp;
#endif
  if (fd_ < 0) {
    std::vector<char> tmpl(path_.begin(), path_.end());
    const char suffix[] = ".tmp.XXXXXX";
    tmpl.insert(tmpl.end(), suffix, suffix + sizeof(suffix));  // includes the NUL
    fd_ = ::mkstemp(tmpl.data());
    if (fd_ < 0) fail(path_, "cannot create temporary output file", errno);
    tmp_path_ = tmpl.data();
  }
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

void AtomicFile::link_unnamed() {
#ifdef O_TMPFILE
  if (link_fd(fd_, path_)) return;
  if (errno != EEXIST) fail(path_, "cannot link the output file", errno);
  // linkat never replaces a file, rename does: link under a free temporary name and
  // rename that at once. Only a kill between these two calls can leave the name behind.
  for (int attempt = 0;; ++attempt) {
    const std::string tmp = path_ + ".tmp." + random_suffix();
    if (link_fd(fd_, tmp)) {
      if (::rename(tmp.c_str(), path_.c_str()) == 0) return;
      const int err = errno;
      ::unlink(tmp.c_str());
      fail(path_, "rename failed", err);
    }
    if (errno != EEXIST || attempt == 100) fail(path_, "cannot link the output file", errno);
  }
#endif
}

void AtomicFile::commit() {
  flush();
  // Both schemes publish 0644 whatever the umask (mkstemp creates 0600).
  ::fchmod(fd_, 0644);
  if (::fsync(fd_) != 0) fail(path_, "fsync failed", errno);
  if (tmp_path_.empty()) {
    // The unnamed file must stay open until linked; once fsync has succeeded, close
    // cannot lose its data.
    link_unnamed();
    committed_ = true;
    ::close(fd_);
    fd_ = -1;
    return;
  }
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail(path_, "close failed", errno);
  }
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) fail(path_, "rename failed", errno);
  committed_ = true;
}

}  // namespace lowbit
