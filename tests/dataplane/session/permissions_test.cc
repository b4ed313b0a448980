#include "dataplane/session/permissions.h"

#include <gtest/gtest.h>

namespace herald::node {
namespace {

herald::v1::Namespace ns(herald::v1::SubscribeRule rule, const std::string& claim = "") {
  herald::v1::Namespace n;
  n.set_subscribe_rule(rule);
  n.set_owner_claim(claim);
  return n;
}

Status check(const herald::v1::Namespace& n, const std::string& channel, const TokenClaims* c) {
  auto name = parseChannelName(channel);
  EXPECT_TRUE(name.isOk());
  return checkSubscribe(n, name.value(), channel, c);
}

TokenClaims alice() {
  TokenClaims c;
  c.subject = "alice";
  c.channels = {"intent:42", "room:lobby-*"};
  c.claims = {{"sub", "alice"}, {"address", "0xAbCdEf01"}, {"tier", 3}};
  return c;
}

TEST(PermissionsTest, PublicAllowsEveryone) {
  EXPECT_TRUE(check(ns(herald::v1::SUBSCRIBE_RULE_PUBLIC), "news", nullptr).isOk());
  EXPECT_TRUE(check(ns(herald::v1::SUBSCRIBE_RULE_UNSPECIFIED), "news", nullptr).isOk());
}

TEST(PermissionsTest, AuthenticatedNeedsAToken) {
  auto c = alice();
  EXPECT_EQ(check(ns(herald::v1::SUBSCRIBE_RULE_AUTHENTICATED), "m:x", nullptr).code(),
            ErrorCode::kPermissionDenied);
  EXPECT_TRUE(check(ns(herald::v1::SUBSCRIBE_RULE_AUTHENTICATED), "m:x", &c).isOk());
}

TEST(PermissionsTest, OwnerBySubject) {
  auto c = alice();
  const auto owner = ns(herald::v1::SUBSCRIBE_RULE_OWNER);
  EXPECT_TRUE(check(owner, "user:alice", &c).isOk());
  EXPECT_FALSE(check(owner, "user:bob", &c).isOk());
  EXPECT_FALSE(check(owner, "user:Alice", &c).isOk());
  EXPECT_FALSE(check(owner, "user:alice", nullptr).isOk());
}

TEST(PermissionsTest, OwnerByClaimIgnoresHexCase) {
  auto c = alice();
  const auto owner = ns(herald::v1::SUBSCRIBE_RULE_OWNER, "address");
  EXPECT_TRUE(check(owner, "balance:0xabcdef01", &c).isOk());
  EXPECT_TRUE(check(owner, "balance:0XABCDEF01", &c).isOk());
  EXPECT_FALSE(check(owner, "balance:0xabcdef02", &c).isOk());
  EXPECT_FALSE(check(owner, "balance:alice", &c).isOk()) << "the claim, not the subject, decides";
  const auto numeric = ns(herald::v1::SUBSCRIBE_RULE_OWNER, "tier");
  EXPECT_FALSE(check(numeric, "balance:3", &c).isOk()) << "only string claims name owners";
  const auto missing = ns(herald::v1::SUBSCRIBE_RULE_OWNER, "wallet");
  EXPECT_NE(check(missing, "balance:x", &c).message().find("no 'wallet' claim"), std::string::npos);
}

TEST(PermissionsTest, GrantedByExactNameOrPrefixPattern) {
  auto c = alice();
  const auto granted = ns(herald::v1::SUBSCRIBE_RULE_GRANTED);
  EXPECT_TRUE(check(granted, "intent:42", &c).isOk());
  EXPECT_FALSE(check(granted, "intent:420", &c).isOk());
  EXPECT_TRUE(check(granted, "room:lobby-1", &c).isOk());
  EXPECT_TRUE(check(granted, "room:lobby-", &c).isOk());
  EXPECT_FALSE(check(granted, "room:lobb", &c).isOk());
  EXPECT_FALSE(check(granted, "intent:42", nullptr).isOk());
}

TEST(PermissionsTest, SameOwner) {
  EXPECT_TRUE(sameOwner("0xABC", "0xabc"));
  EXPECT_FALSE(sameOwner("0xABC", "0xabd"));
  EXPECT_FALSE(sameOwner("ABC", "abc"));
  EXPECT_FALSE(sameOwner("0xZZ", "0xzz"));
  EXPECT_FALSE(sameOwner("0x", "0X"));
}

}  // namespace
}  // namespace herald::node
