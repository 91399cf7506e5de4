// Shared helpers for lowbit's tests: where the shared real data lives, scratch
// directories and small file utilities.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace lowbit::testing {

// ../shared beside the repository, or $LOWBIT_SHARED. Fails the test (not a skip)
// when a required file is missing, so CI notices absent data.
inline std::string shared_path(const std::string& relative) {
  const char* env = std::getenv("LOWBIT_SHARED");
  const std::string root = env && *env ? env : std::string(LOWBIT_SOURCE_DIR) + "/../shared";
  const std::string path = root + "/" + relative;
  if (!std::filesystem::exists(path))
    ADD_FAILURE() << "required shared data file is missing: " << path
                  << " (set LOWBIT_SHARED to the shared/ directory)";
  return path;
}

// A real model fetched by scripts/get-models.sh into $LOWBIT_MODELS (default
// <repo>/.models). Fails the test (not a skip) when it is missing.
inline std::string models_path(const std::string& name) {
  const char* env = std::getenv("LOWBIT_MODELS");
  const std::string root = env && *env ? env : std::string(LOWBIT_SOURCE_DIR) + "/.models";
  const std::string path = root + "/" + name;
  if (!std::filesystem::exists(path))
    ADD_FAILURE() << "required model file is missing: " << path << " (run scripts/get-models.sh)";
  return path;
}

// A fresh directory under the system temp dir, removed when the object dies.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lowbit-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const void* data, size_t n) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
}
inline void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  write_bytes(path, bytes.data(), bytes.size());
}

}  // namespace lowbit::testing
