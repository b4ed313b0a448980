#include "support/jwt_tokens.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <stdexcept>

#include <jwt/jwt.hpp>

namespace herald::testing {
namespace {

std::string bioToString(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

KeyPair exportPair(EVP_PKEY* pkey) {
  if (pkey == nullptr) {
    throw std::runtime_error("key generation failed");
  }
  KeyPair pair;
  BIO* priv = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(priv, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  pair.private_pem = bioToString(priv);
  BIO* pub = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(pub, pkey);
  pair.public_pem = bioToString(pub);
  EVP_PKEY_free(pkey);
  return pair;
}

std::string base64Url(const std::string& in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 0x3f]);
    }
  }
  if (bits > 0) {
    out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3f]);
  }
  return out;
}

}  // namespace

KeyPair makeRsaKeyPair() {
  return exportPair(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
}

KeyPair makeEcKeyPair(const char* curve) {
  return exportPair(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

std::string signToken(const std::string& alg, const std::string& key, const nlohmann::json& payload,
                      const std::string& kid) {
  jwt::jwt_object obj{jwt::params::algorithm(alg), jwt::params::secret(key)};
  for (auto it = payload.begin(); it != payload.end(); ++it) {
    obj.payload().add_claim(it.key(), it.value(), true);
  }
  if (!kid.empty()) {
    obj.header().add_header("kid", kid);
  }
  return obj.signature();
}

std::string unsignedToken(const nlohmann::json& payload) {
  return base64Url(R"({"alg":"none","typ":"JWT"})") + "." + base64Url(payload.dump()) + ".";
}

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace herald::testing
