#pragma once

#include <string>

namespace herald {

// Reads a PEM file for TLS set-up; throws std::runtime_error naming `what` and the file when
// it cannot be read or holds no PEM block (start-up only).
std::string readPemFile(const std::string& path, const std::string& what);

}  // namespace herald
