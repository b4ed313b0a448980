#pragma once
// JSON Web Key Sets (RFC 7517) as the JWT verifier takes them: each usable key becomes a
// JwtKeySpec with its PEM public key (RSA → RS256, EC P-256 → ES256).
#include <string>
#include <string_view>
#include <vector>

#include "common/jwt_verifier.h"
#include "common/status.h"

namespace herald {

struct JwksKeys {
  std::vector<JwtKeySpec> keys;
  std::vector<std::string> skipped;  // why each unusable key was left out ("kid 'x': ...")
};

// Bounds: a set of at most kMaxJwksKeys keys, RSA moduli of 2048..8192 bits. Keys of other
// types, curves or uses, or without a kid, are skipped (listed); a set with no usable key,
// or that is not a JWKS at all, is an error.
inline constexpr size_t kMaxJwksKeys = 100;
inline constexpr size_t kMaxJwksBytes = 1 << 20;
Result<JwksKeys> parseJwks(std::string_view text);

}  // namespace herald
