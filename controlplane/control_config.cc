#include "controlplane/control_config.h"

#include <cstdio>
#include <cstdlib>
#include <set>

#include "common/config_reader.h"
#include "common/host_port.h"
#include "common/logging.h"
#include "controlplane/namespace_rules.h"

namespace herald::control {
namespace {

constexpr const char* kUsage = R"(usage: herald-control [options]

  --grpc-listen HOST:PORT   Control API and NodeLink address (default 127.0.0.1:7070; port 0 = any)
  --data-dir DIR            state directory (default ./herald-data)
  --config FILE             JSON config file (see docs/operations.md)
  --heartbeat-interval-ms N how often nodes report (default 1000)
  --node-timeout-ms N       no heartbeat for N ms marks a node unhealthy (default 5000)
  --log-format human|json   log format (default human)
  --log-level LEVEL         trace, debug, info, warn, error (default info)
  --help                    this text
)";

uint32_t parseUint(const std::string& flag, const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
      text.size() > 9) {
    throw ConfigError(flag + ": expected a positive integer, got '" + text + "'");
  }
  return static_cast<uint32_t>(std::strtoul(text.c_str(), nullptr, 10));
}

void readNamespace(const ConfigReader& r, herald::v1::Namespace* ns) {
  r.rejectUnknownKeys({"name", "subscribe_rule", "allow_client_publish", "history_size",
                       "history_ttl_seconds", "max_subscribers", "owner_claim"});
  std::string name;
  r.readString("name", &name);
  ns->set_name(name);
  std::string rule = "public";
  r.readString("subscribe_rule", &rule);
  herald::v1::SubscribeRule parsed;
  if (!parseSubscribeRule(rule, &parsed)) {
    throw ConfigError(r.where("subscribe_rule") + ": '" + rule +
                      "' is not one of public, authenticated, owner, granted");
  }
  ns->set_subscribe_rule(parsed);
  bool publish = false;
  r.readBool("allow_client_publish", &publish);
  ns->set_allow_client_publish(publish);
  uint32_t v = 0;
  r.readUint32("history_size", &v, 0, 1000000);
  ns->set_history_size(v);
  v = 0;
  r.readUint32("history_ttl_seconds", &v);
  ns->set_history_ttl_seconds(v);
  v = 0;
  r.readUint32("max_subscribers", &v);
  ns->set_max_subscribers(v);
  std::string claim;
  r.readString("owner_claim", &claim);
  ns->set_owner_claim(claim);
}

void readLimits(const ConfigReader& r, herald::v1::Limits* l) {
  r.rejectUnknownKeys({"max_connections_per_node", "max_connections_per_user",
                       "max_subscriptions_per_connection", "max_subscriptions_per_namespace",
                       "client_messages_per_minute", "client_message_burst",
                       "max_inbound_frame_bytes", "new_connections_per_ip_per_second",
                       "failed_auth_per_ip_per_minute", "allowed_origins",
                       "outbound_queue_messages", "outbound_queue_bytes"});
  auto field = [&](const char* key, void (herald::v1::Limits::*set)(uint32_t)) {
    uint32_t v = 0;
    r.readUint32(key, &v);
    if (r.has(key)) {
      (l->*set)(v);
    }
  };
  field("max_connections_per_node", &herald::v1::Limits::set_max_connections_per_node);
  field("max_connections_per_user", &herald::v1::Limits::set_max_connections_per_user);
  field("max_subscriptions_per_connection",
        &herald::v1::Limits::set_max_subscriptions_per_connection);
  field("max_subscriptions_per_namespace",
        &herald::v1::Limits::set_max_subscriptions_per_namespace);
  field("client_messages_per_minute", &herald::v1::Limits::set_client_messages_per_minute);
  field("client_message_burst", &herald::v1::Limits::set_client_message_burst);
  field("max_inbound_frame_bytes", &herald::v1::Limits::set_max_inbound_frame_bytes);
  field("new_connections_per_ip_per_second",
        &herald::v1::Limits::set_new_connections_per_ip_per_second);
  field("failed_auth_per_ip_per_minute", &herald::v1::Limits::set_failed_auth_per_ip_per_minute);
  field("outbound_queue_messages", &herald::v1::Limits::set_outbound_queue_messages);
  field("outbound_queue_bytes", &herald::v1::Limits::set_outbound_queue_bytes);
  std::vector<std::string> origins;
  r.readStringList("allowed_origins", &origins);
  for (const auto& o : origins) {
    l->add_allowed_origins(o);
  }
}

}  // namespace

void loadControlConfigFile(const std::string& file, ControlConfig* config) {
  const nlohmann::json doc = ConfigReader::loadFile(file);
  ConfigReader r(doc, file);
  r.rejectUnknownKeys({"grpc_listen", "data_dir", "heartbeat_interval_ms", "node_timeout_ms",
                       "node_queue_limit", "log_format", "log_level", "namespaces", "limits"});
  r.readString("grpc_listen", &config->grpc_listen);
  r.readString("data_dir", &config->data_dir);
  r.readUint32("heartbeat_interval_ms", &config->heartbeat_interval_ms, 50, 600000);
  r.readUint32("node_timeout_ms", &config->node_timeout_ms, 100, 3600000);
  r.readUint32("node_queue_limit", &config->node_queue_limit, 1000, 100000000);
  r.readString("log_format", &config->log_format);
  r.readString("log_level", &config->log_level);
  config->namespaces.clear();
  for (const auto& item : r.childList("namespaces")) {
    herald::v1::Namespace ns;
    readNamespace(item, &ns);
    config->namespaces.push_back(ns);
  }
  if (r.has("limits")) {
    readLimits(r.child("limits"), &config->limits);
  }
}

void validateControlConfig(const ControlConfig& config) {
  auto hp = parseHostPort(config.grpc_listen);
  if (!hp.isOk()) {
    throw ConfigError("grpc_listen: " + hp.status().message());
  }
  if (config.data_dir.empty()) {
    throw ConfigError("data_dir: must not be empty");
  }
  if (config.heartbeat_interval_ms < 50) {
    throw ConfigError("heartbeat_interval_ms: must be at least 50");
  }
  if (config.node_timeout_ms < 2 * config.heartbeat_interval_ms) {
    throw ConfigError("node_timeout_ms (" + std::to_string(config.node_timeout_ms) +
                      ") must be at least twice heartbeat_interval_ms (" +
                      std::to_string(config.heartbeat_interval_ms) + ")");
  }
  LogFormat format;
  if (!parseLogFormat(config.log_format, &format)) {
    throw ConfigError("log_format: '" + config.log_format + "' is not human or json");
  }
  Status limits = validateLimits(config.limits);
  if (!limits.isOk()) {
    throw ConfigError("limits: " + limits.message());
  }
  std::set<std::string> names;
  for (const auto& ns : config.namespaces) {
    Status s = validateNamespace(ns);
    if (!s.isOk()) {
      throw ConfigError("namespaces['" + ns.name() + "']: " + s.message());
    }
    if (!names.insert(ns.name()).second) {
      throw ConfigError("namespaces: '" + ns.name() + "' is defined twice");
    }
  }
}

ControlConfig parseControlArgs(int argc, char** argv) {
  ControlConfig config;
  // The config file is read first so that flags override it, wherever they appear.
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--config") {
      loadControlConfigFile(argv[i + 1], &config);
    }
  }
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) {
      throw ConfigError(flag + ": unknown flag or missing value (see --help)");
    }
    const std::string value = argv[++i];
    if (flag == "--grpc-listen") {
      config.grpc_listen = value;
    } else if (flag == "--data-dir") {
      config.data_dir = value;
    } else if (flag == "--config") {
      // already applied
    } else if (flag == "--heartbeat-interval-ms") {
      config.heartbeat_interval_ms = parseUint(flag, value);
    } else if (flag == "--node-timeout-ms") {
      config.node_timeout_ms = parseUint(flag, value);
    } else if (flag == "--log-format") {
      config.log_format = value;
    } else if (flag == "--log-level") {
      config.log_level = value;
    } else {
      throw ConfigError(flag + ": unknown flag (see --help)");
    }
  }
  validateControlConfig(config);
  return config;
}

}  // namespace herald::control
