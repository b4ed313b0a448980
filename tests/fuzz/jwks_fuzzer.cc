// libFuzzer target: a JWKS document as a node fetches it from AuthSettings.jwks_url (a server
// the node trusts only for keys): the depth bound, JSON, base64url, and each key made into an
// OpenSSL public key and PEM.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/jwks.h"

namespace {

// An RS256 token naming kid "r1", as the corpus's first key would be asked to check.
constexpr char kToken[] =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6InIxIn0.eyJzdWIiOiJhIiwiZXhwIjo0MDAwMDAwMDAwfQ."
    "c2lnbmF0dXJlLXRoYXQtZG9lcy1ub3QtdmVyaWZ5";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = herald::parseJwks(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!parsed.isOk()) {
    return 0;
  }
  // Every key handed on must be one the verifier takes and can check a signature with.
  herald::JwtPolicy policy;
  policy.keys = parsed->keys;
  for (const auto& key : policy.keys) {
    if (!herald::validateJwtKey(key).isOk()) {
      __builtin_trap();
    }
  }
  auto verifier = herald::makeJwtVerifier(std::move(policy));
  if (verifier->verify(kToken).isOk()) {
    __builtin_trap();  // a signature that is not one never verifies
  }
  return 0;
}
