#include "controlplane/node_admission.h"

#include <openssl/crypto.h>

namespace herald::control {

bool secretsEqual(std::string_view presented, std::string_view expected) {
  return presented.size() == expected.size() &&
         CRYPTO_memcmp(presented.data(), expected.data(), expected.size()) == 0;
}

Status NodeAdmission::admit(std::string_view presented_secret) const {
  if (!secret_.empty() && !secretsEqual(presented_secret, secret_)) {
    return Status(ErrorCode::kUnauthorized,
                  "unknown node: wrong or missing node secret (--node-secret or "
                  "--node-secret-file)");
  }
  return Status::ok();
}

}  // namespace herald::control
