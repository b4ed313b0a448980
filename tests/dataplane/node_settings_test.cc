#include "dataplane/node_settings.h"

#include <gtest/gtest.h>

#include "support/jwt_tokens.h"

namespace herald::node {
namespace {

herald::v1::ConfigSnapshot validSnapshot() {
  herald::v1::ConfigSnapshot s;
  s.set_version(3);
  auto* ns = s.add_namespaces();
  ns->set_name("balance");
  ns->set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_OWNER);
  *s.mutable_limits() = defaultNodeSettings()->limits;
  return s;
}

TEST(NodeSettingsTest, BuildsFromValidSnapshot) {
  auto r = buildNodeSettings(validSnapshot());
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r.value()->version, 3u);
  EXPECT_EQ(r.value()->namespaceFor("balance").subscribe_rule(), herald::v1::SUBSCRIBE_RULE_OWNER);
  // Namespaces that are not configured fall back to the default namespace (public).
  EXPECT_EQ(r.value()->namespaceFor("token").subscribe_rule(), herald::v1::SUBSCRIBE_RULE_PUBLIC);
}

TEST(NodeSettingsTest, AuthSettingsBuildAVerifier) {
  auto s = validSnapshot();
  EXPECT_EQ(buildNodeSettings(s).value()->verifier, nullptr) << "no keys: no verifier";
  auto* key = s.mutable_auth()->add_keys();
  key->set_kid("k");
  key->set_algorithm("HS256");
  key->set_secret("0123456789abcdef0123456789abcdef");
  s.mutable_auth()->set_allow_anonymous(true);
  auto r = buildNodeSettings(s);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_NE(r.value()->verifier, nullptr);
  EXPECT_TRUE(r.value()->allow_anonymous);
  EXPECT_FALSE(defaultNodeSettings()->allow_anonymous) << "unconfigured nodes admit nobody";
}

TEST(NodeSettingsTest, JwksKeysJoinTheStaticOnesAndAStaticKidWins) {
  auto s = validSnapshot();
  auto* key = s.mutable_auth()->add_keys();
  key->set_kid("shared");
  key->set_algorithm("HS256");
  key->set_secret("0123456789abcdef0123456789abcdef");
  const auto rsa = testing::makeRsaKeyPair();
  const auto other = testing::makeRsaKeyPair();
  std::vector<JwtKeySpec> fetched = {{"shared", JwtAlgorithm::kRS256, other.public_pem},
                                     {"idp-1", JwtAlgorithm::kRS256, rsa.public_pem}};
  auto r = buildNodeSettings(s, fetched);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  const nlohmann::json claims = {{"sub", "alice"}, {"exp", testing::nowSeconds() + 60}};
  EXPECT_TRUE(r.value()
                  ->verifier->verify(testing::signToken("RS256", rsa.private_pem, claims, "idp-1"))
                  .isOk());
  EXPECT_FALSE(
      r.value()
          ->verifier->verify(testing::signToken("RS256", other.private_pem, claims, "shared"))
          .isOk())
      << "a fetched key cannot take a static key's kid";
}

TEST(NodeSettingsTest, ConfiguredDefaultNamespaceApplies) {
  auto s = validSnapshot();
  auto* def = s.add_namespaces();
  def->set_name("");
  def->set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_AUTHENTICATED);
  auto r = buildNodeSettings(s);
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(r.value()->namespaceFor("anything").subscribe_rule(),
            herald::v1::SUBSCRIBE_RULE_AUTHENTICATED);
}

TEST(NodeSettingsTest, RefusesInvalidSnapshots) {
  auto bad_name = validSnapshot();
  bad_name.mutable_namespaces(0)->set_name("Bad:Name");
  EXPECT_FALSE(buildNodeSettings(bad_name).isOk());

  auto dup = validSnapshot();
  *dup.add_namespaces() = dup.namespaces(0);
  EXPECT_FALSE(buildNodeSettings(dup).isOk());

  auto no_limits = validSnapshot();
  no_limits.clear_limits();
  auto r = buildNodeSettings(no_limits);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("limits"), std::string::npos);

  auto weak_key = validSnapshot();
  auto* key = weak_key.mutable_auth()->add_keys();
  key->set_algorithm("HS256");
  key->set_secret("too-short");
  EXPECT_FALSE(buildNodeSettings(weak_key).isOk()) << "a node must refuse keys it cannot use";

  auto none_alg = validSnapshot();
  none_alg.mutable_auth()->add_keys()->set_algorithm("none");
  EXPECT_FALSE(buildNodeSettings(none_alg).isOk());

  auto bad_rule = validSnapshot();
  bad_rule.mutable_namespaces(0)->set_subscribe_rule(static_cast<herald::v1::SubscribeRule>(99));
  EXPECT_FALSE(buildNodeSettings(bad_rule).isOk());
}

}  // namespace
}  // namespace herald::node
