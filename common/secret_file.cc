#include "common/secret_file.h"

#include <openssl/rand.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "common/hex.h"

namespace herald {

Result<std::string> readSecretFile(const std::string& path, size_t min_bytes) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) {
      return Status(ErrorCode::kNotFound, path + ": no such file");
    }
    return Status(ErrorCode::kBadRequest, path + ": " + std::strerror(errno));
  }
  std::string line;
  std::getline(in, line);
  const size_t begin = line.find_first_not_of(" \t\r");
  const size_t end = line.find_last_not_of(" \t\r");
  const std::string secret = begin == std::string::npos ? "" : line.substr(begin, end - begin + 1);
  if (secret.size() < min_bytes) {
    return Status(ErrorCode::kBadRequest, path + ": the secret in it is empty or shorter than " +
                                              std::to_string(min_bytes) + " bytes");
  }
  return secret;
}

std::string randomHex(size_t bytes) {
  std::vector<unsigned char> random(bytes);
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");  // start-up only
  }
  return toHex(random.data(), random.size());
}

}  // namespace herald
