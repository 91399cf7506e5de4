#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "lowbit/core/atomic_file.h"
#include "lowbit/core/error.h"
#include "test_util.h"

namespace lowbit {
namespace {

using Temp = AtomicFile::Temp;
using testing::read_bytes;
using testing::ScratchDir;
using testing::write_bytes;

std::vector<std::string> entries(const ScratchDir& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

const char* name_of(Temp temp) { return temp == Temp::Unnamed ? "unnamed" : "named"; }

// What a SIGKILL would leave is whatever the directory holds mid-write: with the unnamed
// file, nothing at all.
TEST(AtomicFile, UnnamedFileHasNoNameUntilCommit) {
  ScratchDir dir;
  const mode_t old_mask = ::umask(077);
  {
    AtomicFile f(dir.file("out.bin"));
    ASSERT_TRUE(f.unnamed()) << "O_TMPFILE is unsupported where the tests run";
    f.write("abc", 3);
    f.write_zeros(5 << 20);  // past the 4 MiB buffer, so bytes reach the file
    EXPECT_EQ(entries(dir), std::vector<std::string>{});
    f.commit();
  }
  ::umask(old_mask);
  EXPECT_EQ(entries(dir), std::vector<std::string>{"out.bin"});
  const auto bytes = read_bytes(dir.file("out.bin"));
  ASSERT_EQ(bytes.size(), 3u + (5u << 20));
  EXPECT_EQ(bytes[0], 'a');
  EXPECT_EQ(bytes[2], 'c');
  EXPECT_EQ(bytes[3], 0);
  EXPECT_EQ(bytes.back(), 0);
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("out.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);  // as before, whatever the umask
}

TEST(AtomicFile, NamedFallbackWritesBesideTheTarget) {
  ScratchDir dir;
  const mode_t old_mask = ::umask(077);
  {
    AtomicFile f(dir.file("out.bin"), Temp::Named);
    EXPECT_FALSE(f.unnamed());
    f.write("xyz", 3);
    const auto names = entries(dir);
    ASSERT_EQ(names.size(), 1u);
    EXPECT_EQ(names[0].substr(0, 12), "out.bin.tmp.");
    EXPECT_EQ(names[0].size(), 18u);  // mkstemp's six characters
    f.commit();
  }
  ::umask(old_mask);
  EXPECT_EQ(entries(dir), std::vector<std::string>{"out.bin"});
  EXPECT_EQ(read_bytes(dir.file("out.bin")), (std::vector<char>{'x', 'y', 'z'}));
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("out.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(AtomicFile, ReplacesAnExistingFileOnlyAtCommit) {
  for (Temp temp : {Temp::Unnamed, Temp::Named}) {
    SCOPED_TRACE(name_of(temp));
    ScratchDir dir;
    write_bytes(dir.file("out.bin"), std::vector<char>{'o', 'l', 'd', '!'});
    AtomicFile f(dir.file("out.bin"), temp);
    f.write("new", 3);
    f.write_zeros(5 << 20);
    EXPECT_EQ(read_bytes(dir.file("out.bin")), (std::vector<char>{'o', 'l', 'd', '!'}));
    f.commit();
    // No temporary name (the link-then-rename one included) is left behind.
    EXPECT_EQ(entries(dir), std::vector<std::string>{"out.bin"});
    const auto bytes = read_bytes(dir.file("out.bin"));
    ASSERT_EQ(bytes.size(), 3u + (5u << 20));
    EXPECT_EQ(bytes[0], 'n');
    EXPECT_EQ(bytes[2], 'w');
  }
}

TEST(AtomicFile, UncommittedLeavesNothing) {
  for (Temp temp : {Temp::Unnamed, Temp::Named}) {
    SCOPED_TRACE(name_of(temp));
    ScratchDir dir;
    {
      AtomicFile f(dir.file("out.bin"), temp);
      f.write_zeros(5 << 20);
    }
    EXPECT_EQ(entries(dir), std::vector<std::string>{});
  }
}

TEST(AtomicFile, MissingDirectoryIsAnIoErrorNamingTheFile) {
  for (Temp temp : {Temp::Unnamed, Temp::Named}) {
    SCOPED_TRACE(name_of(temp));
    ScratchDir dir;
    const std::string path = dir.file("no-such-dir/out.bin");
    try {
      AtomicFile f(path, temp);
      FAIL() << "no error";
    } catch (const IoError& e) {
      EXPECT_EQ(std::string(e.what()), path + ": cannot create temporary output file: No such file or directory");
    }
  }
}

}  // namespace
}  // namespace lowbit
