#include "common/jwt_verifier.h"

#include <gtest/gtest.h>

#include "support/jwt_tokens.h"

namespace herald {
namespace {

using herald::testing::nowSeconds;
using herald::testing::signToken;
using nlohmann::json;

const std::string kSecret = "0123456789abcdef0123456789abcdef";  // 32 bytes
const std::string kOtherSecret = "fedcba9876543210fedcba9876543210";

JwtPolicy hsPolicy() {
  JwtPolicy p;
  p.keys.push_back({"k1", JwtAlgorithm::kHS256, kSecret});
  return p;
}

json claims(int64_t exp_in = 3600) { return {{"sub", "alice"}, {"exp", nowSeconds() + exp_in}}; }

std::string failure(const JwtVerifierPtr& v, const std::string& token) {
  auto r = v->verify(token);
  EXPECT_FALSE(r.isOk());
  if (r.isOk()) {
    return "";
  }
  EXPECT_EQ(r.status().code(), ErrorCode::kUnauthorized);
  return r.status().message();
}

TEST(JwtVerifierTest, ValidHs256TokenGivesClaims) {
  auto v = makeJwtVerifier(hsPolicy());
  json c = claims();
  c["channels"] = {"chat:1", "room:*"};
  c["address"] = "0xAbC";
  auto r = v->verify(signToken("HS256", kSecret, c));
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r->subject, "alice");
  EXPECT_EQ(r->expires_at, c["exp"].get<int64_t>());
  EXPECT_EQ(r->channels, (std::vector<std::string>{"chat:1", "room:*"}));
  EXPECT_EQ(r->claims["address"], "0xAbC");
}

TEST(JwtVerifierTest, ExpiredAndNotYetValidAreRefused) {
  auto v = makeJwtVerifier(hsPolicy());
  EXPECT_EQ(failure(v, signToken("HS256", kSecret, claims(-60))), "token expired");
  json future = claims();
  future["nbf"] = nowSeconds() + 600;
  EXPECT_NE(failure(v, signToken("HS256", kSecret, future)).find("nbf"), std::string::npos);
}

TEST(JwtVerifierTest, LeewayToleratesSmallClockSkew) {
  JwtPolicy p = hsPolicy();
  p.leeway_seconds = 120;
  auto v = makeJwtVerifier(p);
  EXPECT_TRUE(v->verify(signToken("HS256", kSecret, claims(-30))).isOk());
}

TEST(JwtVerifierTest, WrongKeyAndTamperingAreRefused) {
  auto v = makeJwtVerifier(hsPolicy());
  EXPECT_EQ(failure(v, signToken("HS256", kOtherSecret, claims())), "invalid signature");
  std::string token = signToken("HS256", kSecret, claims());
  // Swap the payload for another user's, keeping the signature.
  const size_t a = token.find('.'), b = token.rfind('.');
  std::string forged = signToken("HS256", kOtherSecret, {{"sub", "mallory"}});
  const size_t fa = forged.find('.'), fb = forged.rfind('.');
  std::string tampered = token.substr(0, a) + forged.substr(fa, fb - fa) + token.substr(b);
  EXPECT_FALSE(v->verify(tampered).isOk());
}

TEST(JwtVerifierTest, NoneAlgorithmIsRefused) {
  auto v = makeJwtVerifier(hsPolicy());
  EXPECT_NE(failure(v, herald::testing::unsignedToken(claims())).find("not allowed"),
            std::string::npos);
}

TEST(JwtVerifierTest, AlgorithmWithoutAKeyIsRefused) {
  auto v = makeJwtVerifier(hsPolicy());
  auto rsa = herald::testing::makeRsaKeyPair();
  EXPECT_NE(failure(v, signToken("RS256", rsa.private_pem, claims())).find("no key configured"),
            std::string::npos);
}

TEST(JwtVerifierTest, PublicKeyUsedAsHmacSecretIsRefused) {
  // The classic algorithm-confusion attack: sign HS256 with the server's RSA public key.
  auto rsa = herald::testing::makeRsaKeyPair();
  JwtPolicy p;
  p.keys.push_back({"", JwtAlgorithm::kRS256, rsa.public_pem});
  auto v = makeJwtVerifier(p);
  EXPECT_TRUE(v->verify(signToken("RS256", rsa.private_pem, claims())).isOk());
  EXPECT_FALSE(v->verify(signToken("HS256", rsa.public_pem, claims())).isOk());
}

TEST(JwtVerifierTest, Es256) {
  auto ec = herald::testing::makeEcKeyPair();
  JwtPolicy p;
  p.keys.push_back({"ec", JwtAlgorithm::kES256, ec.public_pem});
  ASSERT_TRUE(validateJwtKey(p.keys[0]).isOk());
  auto v = makeJwtVerifier(p);
  auto r = v->verify(signToken("ES256", ec.private_pem, claims(), "ec"));
  ASSERT_TRUE(r.isOk()) << r.status().message();
  auto other = herald::testing::makeEcKeyPair();
  EXPECT_FALSE(v->verify(signToken("ES256", other.private_pem, claims(), "ec")).isOk());
}

TEST(JwtVerifierTest, KidSelectsAmongRotatingKeys) {
  JwtPolicy p;
  p.keys.push_back({"old", JwtAlgorithm::kHS256, kSecret});
  p.keys.push_back({"new", JwtAlgorithm::kHS256, kOtherSecret});
  auto v = makeJwtVerifier(p);
  EXPECT_TRUE(v->verify(signToken("HS256", kSecret, claims(), "old")).isOk());
  EXPECT_TRUE(v->verify(signToken("HS256", kOtherSecret, claims(), "new")).isOk());
  EXPECT_EQ(failure(v, signToken("HS256", kSecret, claims(), "new")), "invalid signature");
  EXPECT_NE(failure(v, signToken("HS256", kSecret, claims(), "gone")).find("unknown key id"),
            std::string::npos);
  // Without a kid every key of the algorithm is tried.
  EXPECT_TRUE(v->verify(signToken("HS256", kOtherSecret, claims())).isOk());
}

TEST(JwtVerifierTest, IssuerAndAudience) {
  JwtPolicy p = hsPolicy();
  p.issuer = "https://auth.example";
  p.audience = "herald";
  auto v = makeJwtVerifier(p);
  json good = claims();
  good["iss"] = "https://auth.example";
  good["aud"] = json::array({"other", "herald"});
  EXPECT_TRUE(v->verify(signToken("HS256", kSecret, good)).isOk());
  json wrong_iss = good;
  wrong_iss["iss"] = "https://evil.example";
  EXPECT_NE(failure(v, signToken("HS256", kSecret, wrong_iss)).find("issuer"), std::string::npos);
  json wrong_aud = good;
  wrong_aud["aud"] = "other";
  EXPECT_NE(failure(v, signToken("HS256", kSecret, wrong_aud)).find("audience"), std::string::npos);
}

TEST(JwtVerifierTest, MalformedTokensAndClaims) {
  auto v = makeJwtVerifier(hsPolicy());
  for (const std::string& bad :
       {std::string(""), std::string("abc"), std::string("a.b"), std::string("!!!.x.y"),
        std::string("e30.e30.e30"), std::string(9000, 'a')}) {
    failure(v, bad);
  }
  EXPECT_EQ(failure(v, signToken("HS256", kSecret, {{"exp", nowSeconds() + 60}})),
            "token has no sub claim");
  json bad_channels = claims();
  bad_channels["channels"] = "chat:1";
  EXPECT_NE(failure(v, signToken("HS256", kSecret, bad_channels)).find("channels"),
            std::string::npos);
}

TEST(JwtVerifierTest, KeyValidation) {
  EXPECT_FALSE(validateJwtKey({"", JwtAlgorithm::kHS256, "short"}).isOk());
  EXPECT_TRUE(validateJwtKey({"", JwtAlgorithm::kHS256, kSecret}).isOk());
  EXPECT_FALSE(validateJwtKey({"", JwtAlgorithm::kRS256, "not a pem"}).isOk());
  auto ec = herald::testing::makeEcKeyPair();
  EXPECT_FALSE(validateJwtKey({"", JwtAlgorithm::kRS256, ec.public_pem}).isOk())
      << "an EC key is not an RSA key";
  auto k1 = herald::testing::makeEcKeyPair("secp256k1");
  EXPECT_FALSE(validateJwtKey({"", JwtAlgorithm::kES256, k1.public_pem}).isOk())
      << "ES256 means P-256, not any 256-bit curve";
  JwtAlgorithm alg;
  EXPECT_FALSE(parseJwtAlgorithm("none", &alg));
  EXPECT_FALSE(parseJwtAlgorithm("HS512", &alg));
}

TEST(JwtVerifierTest, EveryBitOfAnHmacSignatureCounts) {
  // Herald compares HS256 signatures itself in constant time before the library sees them.
  auto v = makeJwtVerifier(hsPolicy());
  const std::string token = signToken("HS256", kSecret, claims());
  ASSERT_TRUE(v->verify(token).isOk());
  const size_t dot = token.rfind('.');
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t i = dot + 1; i < token.size(); ++i) {
    std::string forged = token;
    // The next character of the alphabet: a different signature, still valid base64url.
    forged[i] = alphabet[(alphabet.find(token[i]) + 1) % alphabet.size()];
    EXPECT_EQ(failure(v, forged), "invalid signature") << "position " << i;
  }
  EXPECT_EQ(failure(v, token.substr(0, token.size() - 1)), "invalid signature") << "truncated";
  EXPECT_EQ(failure(v, token + "A"), "invalid signature") << "extended";
  EXPECT_EQ(failure(v, token.substr(0, dot + 1)), "invalid signature") << "no signature";
}

TEST(JwtVerifierTest, DeeplyNestedClaimsAreRefusedBeforeParsing) {
  auto v = makeJwtVerifier(hsPolicy());
  json c = claims();
  json deep = json::array();
  for (int i = 0; i < 100; ++i) {
    deep = json::array({deep});
  }
  c["x"] = deep;
  EXPECT_NE(failure(v, signToken("HS256", kSecret, c)).find("deeper than 64"), std::string::npos);
  json shallow = claims();
  shallow["x"] = {{"a", {{"b", {1, 2, 3}}}}};
  EXPECT_TRUE(v->verify(signToken("HS256", kSecret, shallow)).isOk());
}

// Found by jwt_verifier_fuzzer: cpp-jwt converted exp 1e308 to an unsigned integer
// (undefined behaviour). Such times are refused before the library sees them.
TEST(JwtVerifierTest, TimeClaimsOutOfRangeAreRefusedBeforeTheLibrary) {
  auto v = makeJwtVerifier(hsPolicy());
  for (const json& bad : {json(1e308), json(-1.5), json("soon"), json::array({1})}) {
    for (const char* claim : {"exp", "nbf", "iat"}) {
      json c = {{"sub", "alice"}};
      c[claim] = bad;
      EXPECT_NE(failure(v, signToken("HS256", kSecret, c)).find("NumericDate"), std::string::npos)
          << claim << "=" << bad.dump();
    }
  }
  json fractional = {{"sub", "alice"}, {"exp", static_cast<double>(nowSeconds()) + 3600.5}};
  EXPECT_TRUE(v->verify(signToken("HS256", kSecret, fractional)).isOk());
}

// Found by jwt_verifier_fuzzer: a byte >= 0x80 in a token made cpp-jwt's base64 decoder index
// its table out of bounds. Tokens are base64url and dots, or refused before the library.
TEST(JwtVerifierTest, BytesOutsideBase64UrlAreRefusedBeforeTheLibrary) {
  JwtPolicy p = hsPolicy();
  auto v = makeJwtVerifier(p);
  const std::string token = signToken("HS256", kSecret, claims());
  for (const char* bad : {"\xf9", "=", "+", "/", " ", "\n"}) {
    std::string t = token;
    t.insert(t.find('.') + 3, bad);
    EXPECT_NE(failure(v, t).find("base64url"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace herald
