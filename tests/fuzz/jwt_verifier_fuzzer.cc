// libFuzzer target: a token as a client sends it (URL or `authenticate`), through the
// verifier the node uses: header/payload/signature splitting, base64url, the depth bound, the
// constant-time HMAC check, cpp-jwt's parse and the claims (sub, exp, nbf, iss, aud, channels).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/jwt_verifier.h"

namespace {

// An RS256 key so that tokens naming RS256 reach the public-key path too.
constexpr char kRsaPublicKey[] = R"(-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA3jcEhiMY3hzxT20JL04V
zbIA6nRPy+d6TGa+v0hplFam6QiAOsP12mNtqppL31ucOq5ADAwkE/PARBdXuIAv
1nZE4EZea9z9Xt8MwTJ8Q029gKAp0XLxGiUUBDR2AXufrXZqGykY/gOeGyQtPWSY
S3BZIoZBYAa0XI1kF9xLEbEQYCxT6nll+TA/HbKincPtaU/xjGLyCE1EIqeij9uM
9uuwrwJ2952jkhLToGjT/kEsgETjDdEFJnrOU94qnOdLPAjQt5bM+Ywm3jx0pi0x
zvq5dX+uQZHVMXn9uq3QmXqT6jT7N7abKhk4cZp8s1Cv2zsh6XMf0N8aD1qXjC0J
hwIDAQAB
-----END PUBLIC KEY-----
)";

const herald::JwtVerifierPtr& verifier() {
  static const herald::JwtVerifierPtr v = [] {
    herald::JwtPolicy policy;
    policy.keys.push_back(
        {"hs", herald::JwtAlgorithm::kHS256, "fuzz-secret-0123456789abcdef-0123"});
    policy.keys.push_back({"rs", herald::JwtAlgorithm::kRS256, kRsaPublicKey});
    policy.issuer = "herald-fuzz";
    policy.audience = "clients";
    policy.leeway_seconds = 5;
    return herald::makeJwtVerifier(policy);
  }();
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  auto result = verifier()->verify(token);
  if (result.isOk()) {
    // Only the committed seeds carry a valid signature: what passes must be a usable identity.
    if (result->subject.empty() || result->subject.size() > 256) {
      __builtin_trap();
    }
    return 0;
  }
  if (result.status().code() != herald::ErrorCode::kUnauthorized ||
      result.status().message().empty()) {
    __builtin_trap();  // every refusal is `unauthorized`, with a reason
  }
  return 0;
}
