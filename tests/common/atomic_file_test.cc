#include "common/atomic_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace herald {
namespace {

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "herald-atomic-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/state.json";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

  static mode_t mode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(AtomicFileTest, CreatesTheFileWithExactlyTheContents) {
  const std::string contents("{\"a\":1}\n\0binary\xff", 16);
  ASSERT_TRUE(writeFileAtomically(path_, contents).isOk());
  EXPECT_EQ(read(path_), contents);
}

TEST_F(AtomicFileTest, AWriteReplacesTheOldContentCompletely) {
  ASSERT_TRUE(writeFileAtomically(path_, std::string(4096, 'o')).isOk());
  ASSERT_TRUE(writeFileAtomically(path_, "new").isOk());
  EXPECT_EQ(read(path_), "new") << "no tail of the longer old content may remain";
  ASSERT_TRUE(writeFileAtomically(path_, "").isOk());
  EXPECT_EQ(read(path_), "");
}

// A crash between writing the temporary file (path + ".tmp") and renaming it leaves it behind.
TEST_F(AtomicFileTest, AStaleTemporaryFileDoesNotBreakTheNextWrite) {
  ASSERT_TRUE(writeFileAtomically(path_, "old").isOk());
  { std::ofstream(path_ + ".tmp") << "half-written leftover that is longer than the new content"; }
  ASSERT_TRUE(writeFileAtomically(path_, "next").isOk());
  EXPECT_EQ(read(path_), "next");
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp")) << "the temporary file was renamed";
}

// The header promises mode 0600 ("state files may hold secrets"), whatever the file was before.
TEST_F(AtomicFileTest, TheFileHasMode0600) {
  ASSERT_TRUE(writeFileAtomically(path_, "secret").isOk());
  EXPECT_EQ(mode(path_), 0600u);
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  ASSERT_TRUE(writeFileAtomically(path_, "secret 2").isOk());
  EXPECT_EQ(mode(path_), 0600u) << "a replaced world-readable file does not stay readable";
}

TEST_F(AtomicFileTest, AStaleWorldReadableTemporaryFileDoesNotWidenTheMode) {
  { std::ofstream(path_ + ".tmp") << "leftover"; }
  ASSERT_EQ(::chmod((path_ + ".tmp").c_str(), 0644), 0);
  ASSERT_TRUE(writeFileAtomically(path_, "secret").isOk());
  EXPECT_EQ(read(path_), "secret");
  EXPECT_EQ(mode(path_), 0600u);
}

TEST_F(AtomicFileTest, AWriteIntoAMissingDirectoryFailsWithTheReason) {
  const std::string missing = dir_ + "/no-such-dir/state.json";
  Status s = writeFileAtomically(missing, "x");
  EXPECT_FALSE(s.isOk());
  EXPECT_EQ(s.code(), ErrorCode::kInternal);
  EXPECT_NE(s.message().find(missing), std::string::npos) << s.message();
  EXPECT_FALSE(std::filesystem::exists(missing));
}

}  // namespace
}  // namespace herald
