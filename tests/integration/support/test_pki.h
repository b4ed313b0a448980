#pragma once
// A throwaway CA with a server certificate for 127.0.0.1 / localhost and a client certificate,
// made by Debian's openssl for tests of TLS between real processes.
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "integration/support/cluster.h"

namespace herald::testing {

class Pki {
 public:
  Pki() {
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "1", "-subj",
             "/CN=herald-test-ca"});
    issue("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    issue("client", "extendedKeyUsage=clientAuth\n");
  }
  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }
  std::string read(const std::string& name) const {
    std::ifstream in(path(name));
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  void openssl(const std::vector<std::string>& args) {
    auto r = runCommand("/usr/bin/openssl", args, 60s);
    if (r.exit_code != 0) {
      throw std::runtime_error("openssl failed: " + r.err);
    }
  }
  void issue(const std::string& name, const std::string& extensions) {
    std::ofstream(path(name + ".ext")) << extensions;
    openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", path(name + ".key"), "-out", path(name + ".csr"), "-subj", "/CN=" + name});
    openssl({"x509", "-req", "-in", path(name + ".csr"), "-CA", path("ca.pem"), "-CAkey",
             path("ca.key"), "-CAcreateserial", "-out", path(name + ".pem"), "-days", "1",
             "-extfile", path(name + ".ext")});
  }
  TempDir dir_;
};

}  // namespace herald::testing
