#include "common/jwks.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "common/base64url.h"
#include "common/json_text.h"

namespace herald {
namespace {

using json = nlohmann::json;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

Status bad(const std::string& message) { return Status(ErrorCode::kBadRequest, message); }

// A base64url member of `key`, decoded, of at most `max` bytes.
Result<std::string> member(const json& key, const char* name, size_t max) {
  auto it = key.find(name);
  if (it == key.end() || !it->is_string()) {
    return bad(std::string("no ") + name);
  }
  const auto& text = it->get_ref<const std::string&>();
  if (text.size() > max * 4 / 3 + 4) {
    return bad(std::string(name) + " too long");
  }
  auto bytes = base64UrlDecode(text);
  if (!bytes || bytes->empty() || bytes->size() > max) {
    return bad(std::string(name) + " is not base64url of 1.." + std::to_string(max) + " bytes");
  }
  return std::move(*bytes);
}

// The public key made from OpenSSL parameters, as PEM.
Result<std::string> pemOf(const char* type, OSSL_PARAM_BLD* bld) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return bad("not a valid public key");
  }
  PkeyPtr pkey(raw);
  // OpenSSL's own checks of a public key (RSA: SP 800-56B; EC: the point is on the curve).
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return bad("not a valid public key");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey.get()) != 1) {
    return Status(ErrorCode::kInternal, "could not write the key as PEM");
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> rsaPem(const json& key) {
  auto n = member(key, "n", 1024);  // 8192 bits
  auto e = member(key, "e", 8);
  if (!n.isOk()) {
    return n.status();
  }
  if (!e.isOk()) {
    return e.status();
  }
  if (n->size() < 256 || ((n->front() & 0x80) == 0 && n->size() == 256)) {
    return bad("n shorter than 2048 bits");
  }
  // e odd and at least 65537 (e = 1 would make every signature check pass), n odd.
  const auto& eb = e.value();
  if ((static_cast<unsigned char>(eb.back()) & 1) == 0 ||
      (static_cast<unsigned char>(n->back()) & 1) == 0) {
    return bad("e and n must be odd");
  }
  size_t first = 0;
  while (first < eb.size() && eb[first] == 0) {
    ++first;
  }
  if (eb.size() - first < 3) {  // odd and of 3 bytes or more: 65537 or above
    return bad("e smaller than 65537");
  }
  BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                       static_cast<int>(n->size()), nullptr));
  BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                       static_cast<int>(e->size()), nullptr));
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    return Status(ErrorCode::kInternal, "out of memory");
  }
  return pemOf("RSA", bld.get());
}

Result<std::string> ecPem(const json& key) {
  auto crv = key.find("crv");
  if (crv == key.end() || !crv->is_string() || *crv != "P-256") {
    return bad("only the P-256 curve is supported");
  }
  auto x = member(key, "x", 32);
  auto y = member(key, "y", 32);
  if (!x.isOk()) {
    return x.status();
  }
  if (!y.isOk()) {
    return y.status();
  }
  if (x->size() != 32 || y->size() != 32) {
    return bad("x and y must be 32 bytes each");
  }
  std::string point = "\x04" + x.value() + y.value();  // uncompressed
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return Status(ErrorCode::kInternal, "out of memory");
  }
  return pemOf("EC", bld.get());
}

// One key of the set, or why it is left out.
Result<JwtKeySpec> keyOf(const json& key) {
  if (!key.is_object()) {
    return bad("not an object");
  }
  auto kid = key.find("kid");
  if (kid == key.end() || !kid->is_string() || kid->get_ref<const std::string&>().empty() ||
      kid->get_ref<const std::string&>().size() > 128) {
    return bad("no kid (1..128 bytes)");
  }
  if (auto use = key.find("use"); use != key.end() && (!use->is_string() || *use != "sig")) {
    return bad("use is not sig");
  }
  auto kty = key.find("kty");
  if (kty == key.end() || !kty->is_string()) {
    return bad("no kty");
  }
  JwtKeySpec spec;
  spec.kid = kid->get<std::string>();
  Result<std::string> pem = bad("");
  std::string alg;
  if (*kty == "RSA") {
    spec.algorithm = JwtAlgorithm::kRS256;
    alg = "RS256";
    pem = rsaPem(key);
  } else if (*kty == "EC") {
    spec.algorithm = JwtAlgorithm::kES256;
    alg = "ES256";
    pem = ecPem(key);
  } else {
    return bad("kty is not RSA or EC");
  }
  if (auto a = key.find("alg"); a != key.end() && (!a->is_string() || *a != alg)) {
    return bad("alg is not " + alg);
  }
  if (!pem.isOk()) {
    return pem.status();
  }
  spec.material = std::move(pem.value());
  spec.by_kid_only = true;
  if (Status valid = validateJwtKey(spec); !valid.isOk()) {
    return valid;
  }
  return spec;
}

}  // namespace

Result<JwksKeys> parseJwks(std::string_view text) {
  if (text.size() > kMaxJwksBytes) {
    return bad("larger than 1 MiB");
  }
  // nlohmann's parser recurses on depth: refuse deep documents before it sees them.
  if (jsonNestingDepth(text, 8) > 8) {
    return bad("nested deeper than 8 levels");
  }
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return bad("not a JSON object");
  }
  auto keys = doc.find("keys");
  if (keys == doc.end() || !keys->is_array()) {
    return bad("no keys array");
  }
  if (keys->size() > kMaxJwksKeys) {
    return bad("more than " + std::to_string(kMaxJwksKeys) + " keys");
  }
  JwksKeys out;
  for (const auto& key : *keys) {
    auto spec = keyOf(key);
    if (!spec.isOk()) {
      std::string kid = key.is_object() ? key.value("kid", json("?")).dump() : "?";
      out.skipped.push_back("key " + kid.substr(0, 80) + ": " + spec.status().message());
      continue;
    }
    bool repeated = false;
    for (const auto& have : out.keys) {
      repeated = repeated || have.kid == spec->kid;
    }
    if (repeated) {
      out.skipped.push_back("key \"" + spec->kid + "\": kid used twice");
      continue;
    }
    out.keys.push_back(std::move(spec.value()));
  }
  if (out.keys.empty()) {
    return bad("no usable key" +
               (out.skipped.empty() ? std::string() : " (" + out.skipped[0] + ")"));
  }
  return out;
}

}  // namespace herald
