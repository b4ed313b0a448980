#include "dataplane/node_config.h"

#include <cstdio>
#include <cstdlib>

#include "common/config_reader.h"
#include "common/flag_parser.h"
#include "common/host_port.h"
#include "common/logging.h"
#include "common/node_identity.h"
#include "common/secret_file.h"
#include "dataplane/link/control_endpoints.h"

namespace herald::node {
namespace {

constexpr const char* kUsage = R"(usage: herald-node [options]

  --listen HOST:PORT      WebSocket and HTTP address (default 127.0.0.1:8080; port 0 = any)
  --control HOST:PORT[,HOST:PORT...]
                          herald-control NodeLink address(es) (default 127.0.0.1:7070); with
                          several, the first is dialled at start and the node fails over to the
                          next one, round-robin, when its link breaks
  --node-id ID            node identity (default node-<host>-<port>)
  --config FILE           JSON config file (see docs/operations.md)
  --shards N              event-loop threads (default: one per hardware thread)
  --ping-interval-ms N    WebSocket ping to every client this often (default 30000)
  --pong-timeout-ms N     close a client that does not answer a ping within N ms (default
                          10000), with code 4015
  --node-secret SECRET    secret the control plane requires (also HERALD_NODE_SECRET)
  --node-secret-file FILE read it from FILE (also HERALD_NODE_SECRET_FILE); default, for a
                          control plane on this host: ./herald-data/node.secret if it exists
  --tls-cert FILE         serve wss:// with this PEM certificate chain (with --tls-key)
  --tls-key FILE          ... and this PEM private key
  --control-tls-ca FILE   reach the control plane over TLS, trusting this CA (PEM)
  --control-tls-cert FILE client certificate for mTLS (with --control-tls-key)
  --control-tls-key FILE  client private key for mTLS
  --reconnect-max-ms N    ceiling of the backoff between control-plane redials (default 1000)
  --compression           offer permessage-deflate to clients (off by default; each message is
                          compressed once per node, no zlib state per connection)
  --compression-min-bytes N  send smaller messages uncompressed (default 256)
  --compression-level N   zlib level 1 (fastest, default) .. 9 (smallest)
  --log-format human|json log format (default human)
  --log-level LEVEL       trace, debug, info, warn, error (default info)
  --help                  this text
)";

}  // namespace

void loadNodeConfigFile(const std::string& file, NodeConfig* config) {
  const nlohmann::json doc = ConfigReader::loadFile(file);
  ConfigReader r(doc, file);
  r.rejectUnknownKeys({"listen",
                       "control",
                       "node_id",
                       "shards",
                       "ping_interval_ms",
                       "pong_timeout_ms",
                       "handshake_timeout_ms",
                       "reconnect_max_ms",
                       "log_format",
                       "log_level",
                       "node_secret",
                       "node_secret_file",
                       "control_tls_ca",
                       "control_tls_cert",
                       "control_tls_key",
                       "tls_cert",
                       "tls_key",
                       "compression",
                       "compression_min_bytes",
                       "compression_level"});
  r.readString("node_secret", &config->node_secret);
  r.readString("node_secret_file", &config->node_secret_file);
  r.readString("control_tls_ca", &config->control_tls_ca);
  r.readString("tls_cert", &config->tls_cert);
  r.readString("tls_key", &config->tls_key);
  r.readString("control_tls_cert", &config->control_tls_cert);
  r.readString("control_tls_key", &config->control_tls_key);
  r.readString("listen", &config->listen);
  if (r.has("control") && doc.at("control").is_array()) {
    // ["A:7070", "B:7070"] is the same as "A:7070,B:7070".
    std::vector<std::string> list;
    r.readStringList("control", &list);
    config->control.clear();
    for (const auto& item : list) {
      config->control += (config->control.empty() ? "" : ",") + item;
    }
  } else if (r.has("control") && !doc.at("control").is_string()) {
    throw ConfigError(r.where("control") + ": expected a string or an array of strings");
  } else {
    r.readString("control", &config->control);
  }
  r.readString("node_id", &config->node_id);
  r.readUint32("shards", &config->shards, 0, 256);
  r.readUint32("ping_interval_ms", &config->ping_interval_ms, 1000, 3600000);
  r.readUint32("pong_timeout_ms", &config->pong_timeout_ms, 100, 600000);
  r.readUint32("handshake_timeout_ms", &config->handshake_timeout_ms, 100, 120000);
  r.readUint32("reconnect_max_ms", &config->reconnect_max_ms, 100, 600000);
  r.readBool("compression", &config->compression);
  r.readUint32("compression_min_bytes", &config->compression_min_bytes, 0, kMaxCompressionMinBytes);
  r.readUint32("compression_level", &config->compression_level, 1, 9);
  r.readString("log_format", &config->log_format);
  r.readString("log_level", &config->log_level);
}

std::vector<std::string> controlAddresses(const NodeConfig& config) {
  auto list = ControlEndpoints::parseList(config.control);
  if (!list.isOk()) {
    throw ConfigError("control: " + list.status().message());
  }
  return list.value();
}

void validateNodeConfig(const NodeConfig& config) {
  if (auto hp = parseHostPort(config.listen); !hp.isOk()) {
    throw ConfigError("listen: " + hp.status().message());
  }
  controlAddresses(config);
  if (!config.node_id.empty() && !validNodeId(config.node_id)) {
    throw ConfigError(std::string("node_id: ") + kNodeIdRule);
  }
  if (!config.node_secret.empty() && !config.node_secret_file.empty()) {
    throw ConfigError("node_secret and node_secret_file: give one");
  }
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    throw ConfigError("tls_cert and tls_key go together");
  }
  if (config.control_tls_cert.empty() != config.control_tls_key.empty()) {
    throw ConfigError("control_tls_cert and control_tls_key go together");
  }
  if (!config.control_tls_cert.empty() && config.control_tls_ca.empty()) {
    throw ConfigError("control_tls_cert needs control_tls_ca (mTLS is on top of TLS)");
  }
  if (config.ping_interval_ms < 1000) {
    throw ConfigError("ping_interval_ms: at least 1000");
  }
  if (config.pong_timeout_ms < 100) {
    throw ConfigError("pong_timeout_ms: at least 100");
  }
  if (config.pong_timeout_ms >= config.ping_interval_ms) {
    // Each ping restarts websocketpp's pong timer: a timeout as long as the interval never fires.
    throw ConfigError("pong_timeout_ms (" + std::to_string(config.pong_timeout_ms) +
                      ") must be shorter than ping_interval_ms (" +
                      std::to_string(config.ping_interval_ms) + ")");
  }
  if (config.reconnect_max_ms < 100) {
    throw ConfigError("reconnect_max_ms: at least 100");
  }
  if (config.compression_level < 1 || config.compression_level > 9) {
    throw ConfigError("compression_level: 1 (fastest) to 9 (smallest)");
  }
  if (config.compression_min_bytes > kMaxCompressionMinBytes) {
    throw ConfigError("compression_min_bytes: at most " + std::to_string(kMaxCompressionMinBytes));
  }
  if (config.shards > 256) {
    throw ConfigError("shards: at most 256");
  }
  LogFormat format;
  if (!parseLogFormat(config.log_format, &format)) {
    throw ConfigError("log_format: '" + config.log_format + "' is not human or json");
  }
}

NodeConfig parseNodeArgs(int argc, char** argv) {
  NodeConfig config;
  if (const char* env = std::getenv("HERALD_NODE_SECRET"); env != nullptr) {
    config.node_secret = env;
  }
  if (const char* env = std::getenv("HERALD_NODE_SECRET_FILE"); env != nullptr) {
    config.node_secret_file = env;
  }
  FlagParser flags(kUsage);
  flags.addString("--listen", &config.listen);
  flags.addString("--control", &config.control);
  flags.addString("--node-id", &config.node_id);
  flags.addUint("--shards", &config.shards);
  flags.addUint("--ping-interval-ms", &config.ping_interval_ms);
  flags.addUint("--pong-timeout-ms", &config.pong_timeout_ms);
  flags.addString("--node-secret", &config.node_secret);
  flags.addString("--node-secret-file", &config.node_secret_file);
  flags.addString("--tls-cert", &config.tls_cert);
  flags.addString("--tls-key", &config.tls_key);
  flags.addString("--control-tls-ca", &config.control_tls_ca);
  flags.addString("--control-tls-cert", &config.control_tls_cert);
  flags.addString("--control-tls-key", &config.control_tls_key);
  flags.addUint("--reconnect-max-ms", &config.reconnect_max_ms);
  flags.addSwitch("--compression", &config.compression);
  flags.addUint("--compression-min-bytes", &config.compression_min_bytes);
  flags.addUint("--compression-level", &config.compression_level);
  flags.addString("--log-format", &config.log_format);
  flags.addString("--log-level", &config.log_level);
  flags.parse(argc, argv, [&](const std::string& file) { loadNodeConfigFile(file, &config); });
  validateNodeConfig(config);
  resolveNodeSecret(&config);
  return config;
}

void resolveNodeSecret(NodeConfig* config) {
  if (!config->node_secret.empty()) {
    return;
  }
  std::string file = config->node_secret_file;
  if (file.empty()) {
    for (const auto& address : controlAddresses(*config)) {
      auto hp = parseHostPort(address);
      if (!hp.isOk() || (hp->host.rfind("127.", 0) != 0 && hp->host != "localhost" &&
                         hp->host != "::1" && hp->host != "[::1]")) {
        return;  // a remote control plane: its secret is not in our directory
      }
    }
    file = "herald-data/node.secret";
  }
  auto secret = readSecretFile(file);
  if (secret.isOk()) {
    config->node_secret = std::move(secret.value());
  } else if (!config->node_secret_file.empty() || secret.status().code() != ErrorCode::kNotFound) {
    throw ConfigError("node_secret_file: " + secret.status().message());
  }
}

}  // namespace herald::node
