#include "common/channel_name.h"

#include <string>

#include <gtest/gtest.h>

namespace herald {
namespace {

TEST(ChannelNameTest, SplitsNamespaceAndRest) {
  auto r = parseChannelName("token:price");
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r->ns, "token");
  EXPECT_EQ(r->rest, "price");
}

TEST(ChannelNameTest, BareNameIsDefaultNamespace) {
  auto r = parseChannelName("news");
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->ns, "");
  EXPECT_EQ(r->rest, "news");
}

TEST(ChannelNameTest, OnlyFirstColonSplits) {
  auto r = parseChannelName("balance:0xAbC:eth");
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r->ns, "balance");
  EXPECT_EQ(r->rest, "0xAbC:eth");
}

TEST(ChannelNameTest, AcceptsEveryAllowedCharacter) {
  EXPECT_TRUE(parseChannelName("a-b_c:A-Z_a.z:0@9=x,y/z").isOk());
}

TEST(ChannelNameTest, RejectsEmptyParts) {
  EXPECT_FALSE(parseChannelName("").isOk());
  EXPECT_FALSE(parseChannelName(":x").isOk());
  EXPECT_FALSE(parseChannelName("ns:").isOk());
}

TEST(ChannelNameTest, RejectsBadCharacters) {
  for (const char* bad : {"has space", "tab\tname", "ns:new\nline", "quote\"", "back\\slash",
                          "Upper:case", "star*", "ns:caf\xc3\xa9"}) {
    auto r = parseChannelName(bad);
    EXPECT_FALSE(r.isOk()) << bad;
    if (!r.isOk()) {
      EXPECT_EQ(r.status().code(), ErrorCode::kBadRequest);
    }
  }
  EXPECT_FALSE(parseChannelName(std::string("nul\0x", 5)).isOk());
}

TEST(ChannelNameTest, EnforcesLengthLimits) {
  EXPECT_TRUE(parseChannelName(std::string(kMaxChannelLength, 'a')).isOk());
  EXPECT_FALSE(parseChannelName(std::string(kMaxChannelLength + 1, 'a')).isOk());
  EXPECT_TRUE(parseChannelName(std::string(kMaxNamespaceLength, 'n') + ":x").isOk());
  EXPECT_FALSE(parseChannelName(std::string(kMaxNamespaceLength + 1, 'n') + ":x").isOk());
}

TEST(ChannelNameTest, NamespaceNameValidation) {
  EXPECT_TRUE(validateNamespaceName("").isOk());
  EXPECT_TRUE(validateNamespaceName("token_v2-x").isOk());
  EXPECT_FALSE(validateNamespaceName("Token").isOk());
  EXPECT_FALSE(validateNamespaceName("a:b").isOk());
}

TEST(ChannelNameTest, CheckQuotesTheChannelInItsError) {
  EXPECT_TRUE(checkChannelName("chat:lobby").isOk());
  EXPECT_EQ(checkChannelName("chat:lobby")->ns, "chat");
  auto bad = checkChannelName("bad name");
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().code(), ErrorCode::kBadRequest);
  EXPECT_EQ(bad.status().message(),
            "channel 'bad name': " + parseChannelName("bad name").status().message());
  const std::string huge(1000, 'x');
  EXPECT_EQ(checkChannelName(huge).status().message().find(std::string(301, 'x')),
            std::string::npos)
      << "at most 300 bytes of the name are quoted";
}

}  // namespace
}  // namespace herald
