#include "cli/table.h"

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace herald::cli {
namespace {

std::string printed(const Table& table) {
  char* buf = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buf, &size);
  table.print(out);
  std::fclose(out);
  std::string text(buf, size);
  std::free(buf);
  return text;
}

TEST(TableTest, CellsCannotForgeRowsOrDriveTheTerminal) {
  Table t({"USER", "CLIENT"});
  t.add({"mallory\nadmin", "c1"});
  t.add({"\x1b[31mred\x1b[0m", "c2\r"});
  const std::string text = printed(t);
  EXPECT_EQ(text,
            "USER                CLIENT\n"
            "mallory\\nadmin      c1\n"
            "\\x1b[31mred\\x1b[0m  c2\\r\n");
}

TEST(TableTest, ColumnsArePaddedToTheWidestCell) {
  Table t({"A", "B"});
  t.add({"long cell", "x"});
  EXPECT_EQ(printed(t), "A          B\nlong cell  x\n");
}

}  // namespace
}  // namespace herald::cli
