#include "common/jwt_verifier.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <jwt/jwt.hpp>

#include "common/base64url.h"
#include "common/json_text.h"

namespace herald {
namespace {

Status unauthorized(std::string message) {
  return Status(ErrorCode::kUnauthorized, std::move(message));
}

// HMAC-SHA256 of "header.payload" under `secret` equals the token's signature, compared in
// constant time (CRYPTO_memcmp).
bool hmacSignatureMatches(std::string_view token, const std::string& secret) {
  const size_t last_dot = token.rfind('.');
  auto signature = base64UrlDecode(token.substr(last_dot + 1));
  unsigned char expected[EVP_MAX_MD_SIZE];
  unsigned int expected_len = 0;
  if (!signature || HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                         reinterpret_cast<const unsigned char*>(token.data()), last_dot, expected,
                         &expected_len) == nullptr) {
    return false;
  }
  return signature->size() == expected_len &&
         CRYPTO_memcmp(signature->data(), expected, expected_len) == 0;
}

// cpp-jwt converts exp/nbf/iat to an unsigned integer: a float out of range (1e308, -1.5) is
// undefined behaviour there (found by jwt_verifier_fuzzer). Only integers and floats within
// [0, 1e15) reach it.
Status checkTimeClaims(std::string_view payload_segment) {
  auto text = base64UrlDecode(payload_segment);
  if (!text) {
    return Status::ok();  // the library reports a malformed payload
  }
  auto payload = nlohmann::json::parse(*text, nullptr, false);
  if (!payload.is_object()) {
    return Status::ok();
  }
  for (const char* claim : {"exp", "nbf", "iat"}) {
    auto it = payload.find(claim);
    if (it == payload.end() || it->is_number_integer() || it->is_number_unsigned()) {
      continue;
    }
    if (!it->is_number_float() || !(it->get<double>() >= 0 && it->get<double>() < 1e15)) {
      return unauthorized(std::string("token ") + claim +
                          " must be a number of seconds since 1970 (NumericDate)");
    }
  }
  return Status::ok();
}

// Header and payload are parsed and copied by the library and by Herald: bound their nesting
// before anything recursive sees them.
bool segmentsShallow(std::string_view token) {
  const size_t first = token.find('.');
  const size_t last = token.rfind('.');
  for (auto segment : {token.substr(0, first), token.substr(first + 1, last - first - 1)}) {
    auto text = base64UrlDecode(segment);
    if (text && jsonNestingDepth(*text) > kMaxJsonDepth) {
      return false;
    }
  }
  return true;
}

class JwtVerifierImpl : public JwtVerifier {
 public:
  explicit JwtVerifierImpl(JwtPolicy policy) : policy_(std::move(policy)) {}

  // herald::JwtVerifier
  Result<TokenClaims> verify(std::string_view token) const override {
    if (token.empty() || token.size() > kMaxTokenBytes) {
      return unauthorized("token is empty or longer than 8 KiB");
    }
    const size_t dot = token.find('.');
    if (dot == std::string_view::npos || token.find('.', dot + 1) == std::string_view::npos) {
      return unauthorized("malformed token: expected header.payload.signature");
    }
    // cpp-jwt's base64 decoder indexes a table with any byte, sign included (undefined
    // behaviour on bytes >= 0x80, found by jwt_verifier_fuzzer): only base64url reaches it.
    for (char c : token) {
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.';
      if (!ok) {
        return unauthorized("malformed token: only base64url characters and dots are allowed");
      }
    }
    if (!segmentsShallow(token)) {
      return unauthorized("malformed token: JSON nested deeper than " +
                          std::to_string(kMaxJsonDepth) + " levels");
    }
    const size_t last_dot = token.rfind('.');
    if (Status times = checkTimeClaims(token.substr(dot + 1, last_dot - dot - 1)); !times.isOk()) {
      return times;
    }
    auto header_text = base64UrlDecode(token.substr(0, dot));
    if (!header_text) {
      return unauthorized("malformed token header");
    }
    auto header = nlohmann::json::parse(*header_text, nullptr, false);
    if (header.is_discarded() || !header.is_object() || !header.contains("alg") ||
        !header["alg"].is_string()) {
      return unauthorized("malformed token header");
    }
    JwtAlgorithm alg;
    const std::string alg_name = header["alg"].get<std::string>();
    if (!parseJwtAlgorithm(alg_name, &alg)) {
      return unauthorized("token algorithm '" + alg_name.substr(0, 16) + "' is not allowed");
    }
    std::string kid;
    if (header.contains("kid")) {
      if (!header["kid"].is_string()) {
        return unauthorized("malformed token header: kid must be a string");
      }
      kid = header["kid"].get<std::string>();
    }

    Status last = unauthorized("no key configured for algorithm " + alg_name);
    for (const auto& key : policy_.keys) {
      if (key.algorithm != alg || (!kid.empty() && key.kid != kid) ||
          (kid.empty() && key.by_kid_only)) {
        continue;
      }
      auto result = verifyWithKey(token, key, alg_name);
      if (result.isOk()) {
        return result;
      }
      last = result.status();
      if (!kid.empty() || last.message() != "invalid signature") {
        break;  // only a signature mismatch is worth trying the next key for
      }
    }
    if (!kid.empty() && last.message().rfind("no key configured", 0) == 0) {
      return unauthorized("unknown key id '" + kid.substr(0, 64) + "'");
    }
    return last;
  }

 private:
  static constexpr size_t kMaxTokenBytes = 8192;

  Result<TokenClaims> verifyWithKey(std::string_view token, const JwtKeySpec& key,
                                    const std::string& alg_name) const {
    // cpp-jwt compares HMAC signatures with ==, which returns at the first differing byte: a
    // timing oracle for forging one byte at a time. Herald checks HS256 in constant time
    // first, so the library only ever compares a signature that is already known to be right.
    if (key.algorithm == JwtAlgorithm::kHS256 && !hmacSignatureMatches(token, key.material)) {
      return unauthorized("invalid signature");
    }
    namespace p = jwt::params;
    std::error_code ec;
    nlohmann::json payload;
    try {
      auto obj =
          jwt::decode(jwt::string_view(token.data(), token.size()), p::algorithms({alg_name}), ec,
                      p::secret(key.material), p::verify(true), p::leeway(policy_.leeway_seconds));
      if (ec) {
        if (ec == jwt::VerificationErrc::TokenExpired) {
          return unauthorized("token expired");
        }
        if (ec == jwt::VerificationErrc::ImmatureSignature) {
          return unauthorized("token not valid yet (nbf)");
        }
        if (ec == jwt::VerificationErrc::InvalidSignature) {
          return unauthorized("invalid signature");
        }
        return unauthorized("token rejected: " + ec.message());
      }
      payload = obj.payload().create_json_obj();
    } catch (const std::exception& e) {
      return unauthorized(std::string("malformed token: ") + e.what());
    }
    return claimsFrom(payload);
  }

  Result<TokenClaims> claimsFrom(const nlohmann::json& payload) const {
    TokenClaims out;
    if (!payload.contains("sub") || !payload["sub"].is_string() ||
        payload["sub"].get_ref<const std::string&>().empty()) {
      return unauthorized("token has no sub claim");
    }
    out.subject = payload["sub"].get<std::string>();
    if (out.subject.size() > 256) {
      return unauthorized("token sub longer than 256 bytes");
    }
    if (payload.contains("exp")) {
      if (!payload["exp"].is_number()) {
        return unauthorized("token exp must be a number");
      }
      out.expires_at = payload["exp"].get<int64_t>();
    }
    if (!policy_.issuer.empty() && (!payload.contains("iss") || payload["iss"] != policy_.issuer)) {
      return unauthorized("token issuer is not " + policy_.issuer);
    }
    if (!policy_.audience.empty()) {
      bool ok = false;
      if (payload.contains("aud")) {
        const auto& aud = payload["aud"];
        if (aud.is_string()) {
          ok = aud == policy_.audience;
        } else if (aud.is_array()) {
          for (const auto& a : aud) {
            ok = ok || a == policy_.audience;
          }
        }
      }
      if (!ok) {
        return unauthorized("token audience does not include " + policy_.audience);
      }
    }
    if (payload.contains("channels")) {
      const auto& channels = payload["channels"];
      if (!channels.is_array()) {
        return unauthorized("token channels claim must be an array of strings");
      }
      for (const auto& c : channels) {
        if (!c.is_string()) {
          return unauthorized("token channels claim must be an array of strings");
        }
        out.channels.push_back(c.get<std::string>());
      }
    }
    out.claims = payload;
    return out;
  }

  const JwtPolicy policy_;
};

}  // namespace

bool parseJwtAlgorithm(std::string_view text, JwtAlgorithm* out) {
  if (text == "HS256") {
    *out = JwtAlgorithm::kHS256;
  } else if (text == "RS256") {
    *out = JwtAlgorithm::kRS256;
  } else if (text == "ES256") {
    *out = JwtAlgorithm::kES256;
  } else {
    return false;
  }
  return true;
}

const char* jwtAlgorithmName(JwtAlgorithm alg) {
  switch (alg) {
    case JwtAlgorithm::kRS256:
      return "RS256";
    case JwtAlgorithm::kES256:
      return "ES256";
    default:
      return "HS256";
  }
}

Status validateJwtKey(const JwtKeySpec& key) {
  if (key.kid.size() > 128) {
    return Status(ErrorCode::kBadRequest, "kid longer than 128 bytes");
  }
  if (key.algorithm == JwtAlgorithm::kHS256) {
    if (key.material.size() < 32) {
      return Status(ErrorCode::kBadRequest, "HS256 secret shorter than 32 bytes");
    }
    return Status::ok();
  }
  BIO* bio = BIO_new_mem_buf(key.material.data(), static_cast<int>(key.material.size()));
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pkey == nullptr) {
    return Status(ErrorCode::kBadRequest,
                  std::string(jwtAlgorithmName(key.algorithm)) + " key is not a PEM public key");
  }
  const int type = EVP_PKEY_base_id(pkey);
  const int bits = EVP_PKEY_bits(pkey);
  char group[64] = {};
  size_t group_len = 0;
  if (type == EVP_PKEY_EC) {
    EVP_PKEY_get_group_name(pkey, group, sizeof(group), &group_len);
  }
  EVP_PKEY_free(pkey);
  if (key.algorithm == JwtAlgorithm::kRS256 && (type != EVP_PKEY_RSA || bits < 2048)) {
    return Status(ErrorCode::kBadRequest, "RS256 key must be an RSA public key of 2048+ bits");
  }
  const std::string curve(group, group_len);
  if (key.algorithm == JwtAlgorithm::kES256 &&
      (type != EVP_PKEY_EC || bits != 256 || (curve != "prime256v1" && curve != "P-256"))) {
    return Status(ErrorCode::kBadRequest, "ES256 key must be a P-256 EC public key");
  }
  return Status::ok();
}

JwtVerifierPtr makeJwtVerifier(JwtPolicy policy) {
  return std::make_shared<JwtVerifierImpl>(std::move(policy));
}

}  // namespace herald
