#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace herald::testing {

// Key pairs and signed tokens made by the tests themselves (nothing checked in).
struct KeyPair {
  std::string private_pem;
  std::string public_pem;
};
KeyPair makeRsaKeyPair();
KeyPair makeEcKeyPair(const char* curve = "P-256");

// Signs `payload` with alg HS256/RS256/ES256 (`key`: secret or private PEM); adds `kid` when
// not empty.
std::string signToken(const std::string& alg, const std::string& key, const nlohmann::json& payload,
                      const std::string& kid = "");

// The JWK (RFC 7517) of an RSA or EC P-256 public key, with `kid`, as a JWKS lists it.
nlohmann::json publicJwk(const std::string& public_pem, const std::string& kid);

// An unsigned `alg: none` token, as an attacker would send.
std::string unsignedToken(const nlohmann::json& payload);

int64_t nowSeconds();

}  // namespace herald::testing
