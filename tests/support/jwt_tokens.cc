#include "support/jwt_tokens.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
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

nlohmann::json publicJwk(const std::string& public_pem, const std::string& kid) {
  BIO* bio = BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pkey == nullptr) {
    throw std::runtime_error("not a PEM public key");
  }
  nlohmann::json jwk = {{"kid", kid}, {"use", "sig"}};
  auto bn = [&](const char* name) {
    BIGNUM* value = nullptr;
    EVP_PKEY_get_bn_param(pkey, name, &value);
    std::string bytes(static_cast<size_t>(BN_num_bytes(value)), '\0');
    BN_bn2bin(value, reinterpret_cast<unsigned char*>(bytes.data()));
    BN_free(value);
    return base64Url(bytes);
  };
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    jwk["kty"] = "RSA";
    jwk["alg"] = "RS256";
    jwk["n"] = bn(OSSL_PKEY_PARAM_RSA_N);
    jwk["e"] = bn(OSSL_PKEY_PARAM_RSA_E);
  } else {
    unsigned char point[65];
    size_t len = 0;
    EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof(point),
                                    &len);
    jwk["kty"] = "EC";
    jwk["crv"] = "P-256";
    jwk["alg"] = "ES256";
    jwk["x"] = base64Url(std::string(reinterpret_cast<char*>(point) + 1, 32));
    jwk["y"] = base64Url(std::string(reinterpret_cast<char*>(point) + 33, 32));
  }
  EVP_PKEY_free(pkey);
  return jwk;
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
