// JWT keys from a JSON Web Key Set: RSA and EC P-256 keys verify the tokens their private keys
// signed; what is not a usable key is skipped with a reason; what is not a key set is refused.
#include "common/jwks.h"

#include <gtest/gtest.h>

#include "support/jwt_tokens.h"

namespace herald {
namespace {

using testing::makeEcKeyPair;
using testing::makeRsaKeyPair;
using testing::nowSeconds;
using testing::publicJwk;
using testing::signToken;
using json = nlohmann::json;

TEST(JwksTest, RsaAndEcKeysVerifyWhatTheirPrivateKeysSigned) {
  const auto rsa = makeRsaKeyPair();
  const auto ec = makeEcKeyPair();
  const json set = {{"keys", {publicJwk(rsa.public_pem, "r1"), publicJwk(ec.public_pem, "e1")}}};
  auto parsed = parseJwks(set.dump());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().message();
  ASSERT_EQ(parsed->keys.size(), 2u);
  EXPECT_TRUE(parsed->skipped.empty());
  JwtPolicy policy;
  policy.keys = parsed->keys;
  auto verifier = makeJwtVerifier(policy);
  const json claims = {{"sub", "alice"}, {"exp", nowSeconds() + 60}};
  EXPECT_TRUE(verifier->verify(signToken("RS256", rsa.private_pem, claims, "r1")).isOk());
  EXPECT_TRUE(verifier->verify(signToken("ES256", ec.private_pem, claims, "e1")).isOk());
  // Fetched keys are tried only for a token that names them.
  EXPECT_EQ(verifier->verify(signToken("RS256", rsa.private_pem, claims)).status().message(),
            "no key configured for algorithm RS256");
  // Another key pair's token, under a kid of the set, is refused.
  const auto other = makeRsaKeyPair();
  auto forged = verifier->verify(signToken("RS256", other.private_pem, claims, "r1"));
  EXPECT_FALSE(forged.isOk());
}

TEST(JwksTest, UnusableKeysAreSkippedWithTheirReason) {
  const auto rsa = makeRsaKeyPair();
  json good = publicJwk(rsa.public_pem, "good");
  json no_kid = good;
  no_kid.erase("kid");
  json encryption = publicJwk(rsa.public_pem, "enc");
  encryption["use"] = "enc";
  json wrong_alg = publicJwk(rsa.public_pem, "alg");
  wrong_alg["alg"] = "RS512";
  json oct = {{"kty", "oct"}, {"kid", "hmac"}, {"k", "c2VjcmV0"}};
  json short_n = publicJwk(rsa.public_pem, "short");
  short_n["n"] = "AQAB";
  json p384 = {{"kty", "EC"}, {"kid", "p384"}, {"crv", "P-384"}, {"x", "AA"}, {"y", "AA"}};
  json garbage_x = publicJwk(makeEcKeyPair().public_pem, "bad-x");
  garbage_x["x"] = "!!!";
  json twice = good;
  json e_one = publicJwk(rsa.public_pem, "e1");
  e_one["e"] = "AQ";  // e = 1: every signature would check
  json e_three = publicJwk(rsa.public_pem, "e3");
  e_three["e"] = "Aw";
  json off_curve = publicJwk(makeEcKeyPair().public_pem, "off");
  off_curve["y"] = off_curve["x"];
  const json set = {{"keys",
                     {good, no_kid, encryption, wrong_alg, oct, short_n, p384, garbage_x, twice, 7,
                      e_one, e_three, off_curve}}};
  auto parsed = parseJwks(set.dump());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().message();
  ASSERT_EQ(parsed->keys.size(), 1u);
  EXPECT_EQ(parsed->keys[0].kid, "good");
  ASSERT_EQ(parsed->skipped.size(), 12u);
  EXPECT_EQ(parsed->skipped[0], "key \"?\": no kid (1..128 bytes)");
  EXPECT_EQ(parsed->skipped[1], "key \"enc\": use is not sig");
  EXPECT_EQ(parsed->skipped[2], "key \"alg\": alg is not RS256");
  EXPECT_EQ(parsed->skipped[3], "key \"hmac\": kty is not RSA or EC");
  EXPECT_EQ(parsed->skipped[4], "key \"short\": n shorter than 2048 bits");
  EXPECT_EQ(parsed->skipped[5], "key \"p384\": only the P-256 curve is supported");
  EXPECT_EQ(parsed->skipped[6], "key \"bad-x\": x is not base64url of 1..32 bytes");
  EXPECT_EQ(parsed->skipped[7], "key \"good\": kid used twice");
  EXPECT_EQ(parsed->skipped[8], "key ?: not an object");
  EXPECT_EQ(parsed->skipped[9], "key \"e1\": e smaller than 65537");
  EXPECT_EQ(parsed->skipped[10], "key \"e3\": e smaller than 65537");
  EXPECT_EQ(parsed->skipped[11], "key \"off\": not a valid public key");
}

TEST(JwksTest, WhatIsNotAKeySetIsRefused) {
  for (const auto& [text, why] : std::vector<std::pair<std::string, std::string>>{
           {"", "not a JSON object"},
           {"[1,2]", "not a JSON object"},
           {R"({"keys":{}})", "no keys array"},
           {R"({"keys":[]})", "no usable key"},
           {R"({"keys":[{"kty":"RSA"}]})", "no usable key (key \"?\": no kid (1..128 bytes))"},
           {std::string(20, '[') + std::string(20, ']'), "nested deeper than 8 levels"},
           {std::string(kMaxJwksBytes + 1, ' '), "larger than 1 MiB"}}) {
    auto parsed = parseJwks(text);
    ASSERT_FALSE(parsed.isOk()) << text.substr(0, 40);
    EXPECT_EQ(parsed.status().code(), ErrorCode::kBadRequest);
    EXPECT_EQ(parsed.status().message(), why) << text.substr(0, 40);
  }
  json many = {{"keys", json::array()}};
  for (size_t i = 0; i <= kMaxJwksKeys; ++i) {
    many["keys"].push_back({{"kid", std::to_string(i)}});
  }
  EXPECT_EQ(parseJwks(many.dump()).status().message(), "more than 100 keys");
}

}  // namespace
}  // namespace herald
