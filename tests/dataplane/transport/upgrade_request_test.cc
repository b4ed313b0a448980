#include "dataplane/transport/upgrade_request.h"

#include <gtest/gtest.h>

namespace herald::node {
namespace {

TEST(UpgradeRequestTest, OnlyVersion13IsAccepted) {
  EXPECT_EQ(websocketVersionStatus("13"), 0);
  EXPECT_EQ(websocketVersionStatus(" 13 "), 0);
  EXPECT_EQ(websocketVersionStatus(""), 426);  // Hixie-76 sends none
  EXPECT_EQ(websocketVersionStatus("8"), 426);
  EXPECT_EQ(websocketVersionStatus("7"), 426);
  EXPECT_EQ(websocketVersionStatus("13, 8"), 426);
  EXPECT_EQ(websocketVersionStatus("013"), 426);
  EXPECT_EQ(websocketVersionStatus("13x"), 426);
}

TEST(UpgradeRequestTest, RequestPathDropsTheQuery) {
  EXPECT_EQ(requestPath("/ws?token=a"), "/ws");
  EXPECT_EQ(requestPath("/ws"), "/ws");
  EXPECT_EQ(requestPath("?x"), "");
}

TEST(UpgradeRequestTest, ConnectQueryReadsTokenSubscribeAndUserSince) {
  auto q = parseConnectQuery("/ws?token=a%2Eb&subscribe=x:1,y&user_since=5:abc");
  ASSERT_TRUE(q.token.has_value());
  EXPECT_EQ(*q.token, "a.b");
  ASSERT_TRUE(q.subscribe.has_value());
  EXPECT_EQ(*q.subscribe, (std::vector<std::string>{"x:1", "y"}));
  ASSERT_TRUE(q.user_since.has_value());
  EXPECT_EQ(q.user_since->offset, 5u);
  EXPECT_EQ(q.user_since->epoch, "abc");
  EXPECT_FALSE(q.user_since_invalid);
  EXPECT_FALSE(q.subscribe_malformed);

  auto none = parseConnectQuery("/ws");
  EXPECT_FALSE(none.token || none.subscribe || none.user_since);
}

TEST(UpgradeRequestTest, MalformedQueryValuesAreFlagged) {
  auto q = parseConnectQuery("/ws?subscribe=a%zz&user_since=%q");
  EXPECT_FALSE(q.subscribe.has_value());
  EXPECT_TRUE(q.subscribe_malformed);
  EXPECT_TRUE(q.user_since_invalid);
  EXPECT_TRUE(parseConnectQuery("/ws?user_since=abc").user_since_invalid);
  EXPECT_TRUE(parseConnectQuery("/ws?user_since=99999999999999999999999").user_since_invalid);
}

}  // namespace
}  // namespace herald::node
