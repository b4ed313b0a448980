#include "dataplane/session/client_limits.h"

#include <gtest/gtest.h>

#include "dataplane/node_settings.h"

namespace herald::node {
namespace {

herald::v1::Limits defaults() { return defaultNodeSettings()->limits; }

TEST(ClientLimitsTest, DefaultsAreTheDocumentedOnes) {
  const auto l = defaults();
  EXPECT_EQ(l.max_connections_per_node(), 10000u);
  EXPECT_EQ(l.max_connections_per_user(), 10u);
  EXPECT_EQ(l.max_subscriptions_per_connection(), 50u);
  EXPECT_EQ(l.max_subscriptions_per_namespace(), 50u);
  EXPECT_EQ(l.client_messages_per_minute(), 60u);
  EXPECT_EQ(l.client_message_burst(), 10u);
  EXPECT_EQ(l.max_inbound_frame_bytes(), 65536u);
  EXPECT_EQ(l.allowed_origins_size(), 0);
}

TEST(ClientLimitsTest, OriginsAnyWhenUnsetElseExactMatchOnly) {
  auto l = defaults();
  EXPECT_TRUE(originAllowed(l, "https://evil.example"));
  EXPECT_TRUE(originAllowed(l, ""));
  l.add_allowed_origins("https://app.example");
  EXPECT_TRUE(originAllowed(l, "https://app.example"));
  EXPECT_FALSE(originAllowed(l, "https://app.example.evil"));
  EXPECT_FALSE(originAllowed(l, "http://app.example"));
  EXPECT_FALSE(originAllowed(l, "")) << "no Origin header is refused once a list is set";
}

TEST(ClientLimitsTest, NodeTakesConnectionsUpToItsLimit) {
  auto l = defaults();
  l.set_max_connections_per_node(3);
  EXPECT_TRUE(nodeHasRoom(l, 2));
  EXPECT_FALSE(nodeHasRoom(l, 3));
  EXPECT_FALSE(nodeHasRoom(l, 4));
}

TEST(ClientLimitsTest, SubscriptionsPerConnection) {
  auto l = defaults();
  l.set_max_subscriptions_per_connection(3);
  EXPECT_TRUE(checkSubscriptionLimits(l, {"a:1", "b:1"}, {"c:1"}).isOk());
  Status over = checkSubscriptionLimits(l, {"a:1", "b:1"}, {"c:1", "d:1"});
  EXPECT_EQ(over.code(), ErrorCode::kLimitExceeded);
  EXPECT_EQ(over.message(), "at most 3 subscriptions per connection");
}

TEST(ClientLimitsTest, SubscriptionsPerNamespacePerConnection) {
  auto l = defaults();
  l.set_max_subscriptions_per_namespace(2);
  EXPECT_TRUE(checkSubscriptionLimits(l, {"chat:1", "feed:1"}, {"chat:2", "feed:2"}).isOk());
  Status over = checkSubscriptionLimits(l, {"chat:1", "chat:2"}, {"feed:1", "chat:3"});
  EXPECT_EQ(over.code(), ErrorCode::kLimitExceeded);
  EXPECT_EQ(over.message(), "at most 2 subscriptions per namespace ('chat') per connection");
  // Bare names share the default namespace.
  EXPECT_FALSE(checkSubscriptionLimits(l, {"a", "b"}, {"c"}).isOk());
  EXPECT_EQ(namespaceOf("chat:room:1"), "chat");
  EXPECT_EQ(namespaceOf("bare"), "");
}

}  // namespace
}  // namespace herald::node
