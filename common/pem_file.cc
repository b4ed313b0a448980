#include "common/pem_file.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace herald {

std::string readPemFile(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error(what + ": cannot read " + path);
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.find("-----BEGIN ") == std::string::npos) {
    throw std::runtime_error(what + ": " + path + " holds no PEM data");
  }
  return text;
}

}  // namespace herald
