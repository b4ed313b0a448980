#include "common/publication_body.h"

#include <string>

#include <gtest/gtest.h>

#include "common/json_text.h"

namespace herald {
namespace {

TEST(PublicationBodyTest, AcceptsJsonDataEventAndKey) {
  EXPECT_TRUE(checkPublicationBody(R"({"price":50000})", "price_update", "k-1").isOk());
  EXPECT_TRUE(checkPublicationBody(R"("text")", "", "").isOk());
  EXPECT_TRUE(checkPublicationBody("1", "a.b:c-d_e", std::string(256, 'k')).isOk());
}

TEST(PublicationBodyTest, RefusesWhatConsumersCouldNotTake) {
  EXPECT_EQ(checkPublicationBody("", "", "").code(), ErrorCode::kBadRequest);
  EXPECT_EQ(checkPublicationBody("{", "", "").code(), ErrorCode::kBadRequest);
  EXPECT_EQ(checkPublicationBody("1", "bad event", "").code(), ErrorCode::kBadRequest);
  EXPECT_EQ(checkPublicationBody("1", std::string(129, 'e'), "").code(), ErrorCode::kBadRequest);
  EXPECT_EQ(checkPublicationBody("1", "", std::string(257, 'k')).code(), ErrorCode::kBadRequest);
  const std::string big = "\"" + std::string(kMaxPublicationBytes, 'x') + "\"";
  EXPECT_NE(checkPublicationBody(big, "", "").message().find("the limit is"), std::string::npos);
}

TEST(PublicationBodyTest, RefusesDataNestedDeeperThanTheLimit) {
  const auto nested = [](size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
  };
  EXPECT_TRUE(checkPublicationBody(nested(kMaxJsonDepth), "", "").isOk());
  const Status deep = checkPublicationBody(nested(kMaxJsonDepth + 1), "", "");
  EXPECT_EQ(deep.code(), ErrorCode::kBadRequest);
  EXPECT_NE(deep.message().find("deeper than 64 levels"), std::string::npos) << deep.message();
  // Half a MiB of openings, the shape that overflowed a stack when serialised.
  EXPECT_EQ(checkPublicationBody(std::string(500000, '['), "", "").code(), ErrorCode::kBadRequest);
}

}  // namespace
}  // namespace herald
