#pragma once
// An HTTP(S) client for a hook endpoint (docs/hooks.md): herald-node's hook calls and
// herald-control's event batches connect the same way. Header-only: its users link
// cpp-httplib themselves.
#include <httplib.h>

#include <memory>
#include <string>

#include "common/hook_settings.h"

namespace herald {

// A keep-alive client for `target` (http or https; https verifies the server's certificate
// against the system's CAs). An IPv6 literal is connected to without its brackets.
inline std::unique_ptr<httplib::ClientImpl> makeHookHttpClient(const HookTarget& target) {
  std::string host = target.host;
  if (host.size() > 2 && host.front() == '[') {
    host = host.substr(1, host.size() - 2);
  }
  std::unique_ptr<httplib::ClientImpl> client;
  if (target.kind == HookTarget::Kind::kHttps) {
    auto tls = std::make_unique<httplib::SSLClient>(host, target.port);
    tls->enable_server_certificate_verification(true);
    client = std::move(tls);
  } else {
    client = std::make_unique<httplib::ClientImpl>(host, target.port);
  }
  client->set_keep_alive(true);
  return client;
}

}  // namespace herald
