#include "common/text_escape.h"

#include <string>

#include <gtest/gtest.h>

namespace herald {
namespace {

TEST(TextEscapeTest, ControlCharactersBecomeVisible) {
  EXPECT_EQ(escapeControl("plain text: 1 2 3"), "plain text: 1 2 3");
  EXPECT_EQ(escapeControl("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(escapeControl("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  EXPECT_EQ(escapeControl(std::string("nul\0bel\a", 8)), "nul\\x00bel\\x07");
  EXPECT_EQ(escapeControl("del\x7f"), "del\\x7f");
}

TEST(TextEscapeTest, Utf8IsKeptButC1AndInvalidBytesAreEscaped) {
  EXPECT_EQ(escapeControl("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80");
  EXPECT_EQ(escapeControl("\xc2\x9b"
                          "2J"),
            "\\xc2\\x9b2J");  // U+009B: CSI, a C1 control
  EXPECT_EQ(escapeControl("\x9b"
                          "2J"),
            "\\x9b2J");                                         // a lone 8-bit CSI byte
  EXPECT_EQ(escapeControl("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(escapeControl("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(escapeControl("\xe2\x82"), "\\xe2\\x82");           // truncated
}

}  // namespace
}  // namespace herald
