#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace herald {

// Reads a secret kept in a file of its own (node.secret, admin.key): the first line, without
// surrounding whitespace. kNotFound when the file does not exist; kBadRequest when it cannot
// be read, is empty, or is shorter than `min_bytes`. The message names the file.
Result<std::string> readSecretFile(const std::string& path, size_t min_bytes = 16);

// `bytes` random bytes from OpenSSL's CSPRNG, as lowercase hex (2 * bytes characters).
std::string randomHex(size_t bytes);

}  // namespace herald
