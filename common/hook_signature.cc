#include "common/hook_signature.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/hex.h"

namespace herald {

std::string hookSignature(const std::string& secret, int64_t unix_s, const std::string& body) {
  const std::string stamp = std::to_string(unix_s);
  const std::string signed_text = stamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac,
       &mac_len);
  return "t=" + stamp + ",sha256=" + toHex(mac, mac_len);
}

}  // namespace herald
