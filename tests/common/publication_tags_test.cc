// The bounds every publication's tags meet wherever they enter (Publish, PublishBatch,
// Broadcast, the HTTP API, a client's publish frame).
#include "common/publication_tags.h"

#include <map>
#include <string>

#include <gtest/gtest.h>

namespace herald {
namespace {

using Tags = std::map<std::string, std::string>;

std::string refusal(const Tags& tags) {
  Status s = checkTagMap(tags);
  EXPECT_FALSE(s.isOk());
  EXPECT_EQ(s.code(), ErrorCode::kBadRequest);
  return s.message();
}

TEST(PublicationTagsTest, ValidTagsPass) {
  EXPECT_TRUE(checkTagMap(Tags{}).isOk());
  EXPECT_TRUE(
      checkTagMap(Tags{{"source_chain", "eth"}, {"amount.usd", "1000"}, {"a:b-c", ""}}).isOk());
  EXPECT_TRUE(checkTagMap(Tags{{std::string(64, 'k'), std::string(256, 'v')}}).isOk());
}

TEST(PublicationTagsTest, KeysValuesCountAndSizeAreBounded) {
  EXPECT_EQ(refusal({{"", "x"}}), "tag key '' must be 1..64 of A-Z a-z 0-9 _ - . :");
  EXPECT_EQ(refusal({{"a b", "x"}}), "tag key 'a b' must be 1..64 of A-Z a-z 0-9 _ - . :");
  EXPECT_NE(refusal({{std::string(65, 'k'), "x"}}).find("must be 1..64"), std::string::npos);
  EXPECT_EQ(refusal({{"k", std::string(257, 'v')}}), "tag 'k': value longer than 256 bytes");
  Tags many;
  for (int i = 0; i < 33; ++i) {
    many["k" + std::to_string(i)] = "v";
  }
  EXPECT_EQ(refusal(many), "at most 32 tags");
  Tags big;
  for (int i = 0; i < 20; ++i) {
    big["k" + std::to_string(i)] = std::string(250, 'v');
  }
  EXPECT_EQ(refusal(big), "tags longer than 4096 bytes (keys and values together)");
}

}  // namespace
}  // namespace herald
