#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace herald::node {

// What herald-node reads at start: flags override the JSON config file, which overrides the
// embedded defaults. Errors throw herald::ConfigError.
// The largest compression_min_bytes (a message never exceeds 64 MiB; above this means "never").
constexpr uint32_t kMaxCompressionMinBytes = 64u << 20;

struct NodeConfig {
  std::string listen = "127.0.0.1:8080";
  // herald-control address(es): "HOST:PORT[,HOST:PORT...]" (an array in the config file).
  std::string control = "127.0.0.1:7070";
  std::string node_id;                // default: "node-<host>-<port>"
  uint32_t shards = 0;                // 0 = one per hardware thread
  uint32_t ping_interval_ms = 30000;  // WebSocket ping period; advertised in `connected`
  uint32_t pong_timeout_ms = 10000;   // no pong this long after a ping: close 4015
  uint32_t handshake_timeout_ms = 5000;
  // NodeLink backoff ceiling: a control plane back from a restart is found within this long.
  uint32_t reconnect_max_ms = 1000;
  // Presented in the NodeLink call's metadata and in Hello (--node-secret / HERALD_NODE_SECRET),
  // or read from a file (--node-secret-file / HERALD_NODE_SECRET_FILE), by default from
  // ./herald-data/node.secret when every control address is on this host.
  std::string node_secret;
  std::string node_secret_file;
  // TLS to the control plane: CA that signed its certificate; client cert + key for mTLS.
  std::string control_tls_ca;
  std::string control_tls_cert;
  std::string control_tls_key;
  // wss:// for clients: PEM certificate chain and key files (both, or neither for ws://).
  std::string tls_cert;
  std::string tls_key;
  // permessage-deflate for clients that offer it (docs/operations.md "Compression"): off by
  // default; payloads under compression_min_bytes go uncompressed; zlib level 1..9.
  bool compression = false;
  uint32_t compression_min_bytes = 256;
  uint32_t compression_level = 1;
  std::string log_format = "human";
  std::string log_level = "info";
};

NodeConfig parseNodeArgs(int argc, char** argv);
void loadNodeConfigFile(const std::string& file, NodeConfig* config);
void validateNodeConfig(const NodeConfig& config);
// Fills `node_secret` from `node_secret_file`, or from ./herald-data/node.secret (what a
// herald-control started in the same directory generated) when neither was given and every
// control address is a loopback one. Throws ConfigError on an unreadable or empty file.
void resolveNodeSecret(NodeConfig* config);
// The control-plane addresses of `config.control`, in order; throws ConfigError when the list
// is empty or has an empty item, an item that is not HOST:PORT, or an address twice.
std::vector<std::string> controlAddresses(const NodeConfig& config);

}  // namespace herald::node
