#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace herald {

enum class JwtAlgorithm { kHS256, kRS256, kES256 };

// Parses "HS256" | "RS256" | "ES256"; false on anything else (notably "none").
bool parseJwtAlgorithm(std::string_view text, JwtAlgorithm* out);
const char* jwtAlgorithmName(JwtAlgorithm alg);

struct JwtKeySpec {
  std::string kid;
  JwtAlgorithm algorithm = JwtAlgorithm::kHS256;
  std::string material;  // HS256: secret; RS256/ES256: PEM public key
  // Tried only for a token naming this kid (keys from a JWKS): a token without a kid is not
  // checked against every key a provider publishes.
  bool by_kid_only = false;
};

struct JwtPolicy {
  std::vector<JwtKeySpec> keys;
  std::string issuer;    // required `iss` when not empty
  std::string audience;  // required `aud` when not empty
  uint32_t leeway_seconds = 0;
};

// What a verified token says about its holder.
struct TokenClaims {
  std::string subject;                // `sub`: the user id
  int64_t expires_at = 0;             // `exp` in Unix seconds; 0 = never
  std::vector<std::string> channels;  // `channels`: granted channels or prefix patterns ("a:*")
  nlohmann::json claims;              // the whole payload, for configured owner claims
};

// Checks a key before it is accepted (secret length, PEM parses as the right key type).
Status validateJwtKey(const JwtKeySpec& key);

/**
 * Verifies client JWTs against a set of keys. Refuses `alg: none` and any algorithm the
 * selected key is not for; checks signature, exp, nbf, iss and aud. Immutable once built, so
 * one instance is shared by every shard.
 */
class JwtVerifier {
 public:
  virtual ~JwtVerifier() = default;
  // An unauthorized Status names what failed (expired, signature, unknown key...).
  virtual Result<TokenClaims> verify(std::string_view token) const = 0;
};

using JwtVerifierPtr = std::shared_ptr<const JwtVerifier>;

JwtVerifierPtr makeJwtVerifier(JwtPolicy policy);

}  // namespace herald
