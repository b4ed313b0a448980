#include "controlplane/control_config.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "common/config_reader.h"
#include "common/conflation.h"
#include "common/flag_parser.h"
#include "common/hook_settings.h"
#include "common/host_port.h"
#include "common/logging.h"
#include "common/strings.h"
#include "controlplane/namespace_rules.h"
#include "controlplane/redis/redis_client.h"

namespace herald::control {
namespace {

constexpr const char* kUsage = R"(usage: herald-control [options]

  --grpc-listen HOST:PORT   Control API and NodeLink address (default 127.0.0.1:7070; port 0 = any)
  --http-listen HOST:PORT   /metrics, /health, HTTP API, /dashboard (default 127.0.0.1:7071;
                            port 0 = any; "off" = none). Served over TLS with --tls-cert
  --data-dir DIR            state directory (default ./herald-data)
  --config FILE             JSON config file (see docs/operations.md)
  --heartbeat-interval-ms N how often nodes report (default 1000)
  --node-timeout-ms N       no heartbeat for N ms marks a node unhealthy (default 5000)
  --admin-key KEY           first admin API key (else generated at first start and printed);
                            also HERALD_ADMIN_KEY
  --node-secret SECRET      secret nodes must present (also HERALD_NODE_SECRET); without
                            one (and without --tls-client-ca) one is generated at first start
                            in DIR/node.secret (0600): start nodes with --node-secret-file
  --allow-unauthenticated-nodes
                            let nodes join with neither (trusted networks only: a node
                            receives every secret in the config)
  --tls-cert FILE           serve gRPC over TLS with this PEM certificate chain
  --tls-key FILE            ... and this PEM private key
  --tls-client-ca FILE      require client certificates signed by this CA (mTLS)
  --engine memory|redis     where channel offsets and history live (default memory)
  --redis URL[,URL...]      Redis instances for --engine redis (redis://HOST:PORT[/DB]);
                            channels are spread over several by hashing their names
  --log-format human|json   log format (default human)
  --log-level LEVEL         trace, debug, info, warn, error (default info)
  --help                    this text
)";

// "drop" or "disconnect"; absent gives `fallback`.
herald::v1::SlowConsumerPolicy readPolicy(const ConfigReader& r,
                                          herald::v1::SlowConsumerPolicy fallback) {
  std::string text;
  r.readString("slow_consumer_policy", &text);
  if (!r.has("slow_consumer_policy")) {
    return fallback;
  }
  herald::v1::SlowConsumerPolicy policy;
  if (!parseSlowConsumerPolicy(text, &policy)) {
    throw ConfigError(r.where("slow_consumer_policy") + ": '" + text +
                      "' is not one of drop, disconnect");
  }
  return policy;
}

void readNamespace(const ConfigReader& r, herald::v1::Namespace* ns) {
  r.rejectUnknownKeys({"name", "subscribe_rule", "allow_client_publish", "history_size",
                       "history_ttl_seconds", "max_subscribers", "owner_claim",
                       "slow_consumer_policy", "subscribe_hook", "publish_hook",
                       "subscription_events", "join_leave", "conflate_ms", "smooth_ms"});
  std::string name;
  r.readString("name", &name);
  ns->set_name(name);
  std::string rule = "public";
  r.readString("subscribe_rule", &rule);
  herald::v1::SubscribeRule parsed;
  if (!parseSubscribeRule(rule, &parsed)) {
    throw ConfigError(r.where("subscribe_rule") + ": '" + rule +
                      "' is not one of public, authenticated, owner, granted, hook");
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
  ns->set_slow_consumer_policy(readPolicy(r, herald::v1::SLOW_CONSUMER_POLICY_UNSPECIFIED));
  std::string hook;
  r.readString("subscribe_hook", &hook);
  ns->set_subscribe_hook(hook);
  hook.clear();
  r.readString("publish_hook", &hook);
  ns->set_publish_hook(hook);
  bool events = false;
  r.readBool("subscription_events", &events);
  ns->set_subscription_events(events);
  bool join_leave = false;
  r.readBool("join_leave", &join_leave);
  ns->set_join_leave(join_leave);
  v = 0;
  r.readUint32("conflate_ms", &v, 0, kMaxConflateMs);
  ns->set_conflate_ms(v);
  v = 0;
  r.readUint32("smooth_ms", &v, 0, kMaxConflateMs);
  ns->set_smooth_ms(v);
}

void readLimits(const ConfigReader& r, herald::v1::Limits* l) {
  r.rejectUnknownKeys({"max_connections_per_node", "max_connections_per_user",
                       "max_subscriptions_per_connection", "max_subscriptions_per_namespace",
                       "client_messages_per_minute", "client_message_burst",
                       "max_inbound_frame_bytes", "new_connections_per_ip_per_second",
                       "failed_auth_per_ip_per_minute", "allowed_origins",
                       "outbound_queue_messages", "outbound_queue_bytes", "slow_consumer_policy",
                       "user_history_size", "user_history_ttl_seconds"});
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
  field("user_history_size", &herald::v1::Limits::set_user_history_size);
  field("user_history_ttl_seconds", &herald::v1::Limits::set_user_history_ttl_seconds);
  l->set_slow_consumer_policy(readPolicy(r, herald::v1::SLOW_CONSUMER_POLICY_UNSPECIFIED));
  std::vector<std::string> origins;
  r.readStringList("allowed_origins", &origins);
  for (const auto& o : origins) {
    l->add_allowed_origins(o);
  }
}

std::string readWholeFile(const std::string& where, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw ConfigError(where + ": cannot read " + path);
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// `secret`, or the content of the file `secret_file` names (trailing line ends dropped).
std::string readSecret(const ConfigReader& r) {
  std::string value;
  r.readString("secret", &value);
  if (r.has("secret_file")) {
    std::string file;
    r.readString("secret_file", &file);
    value = readWholeFile(r.where("secret_file"), file);
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) {
      value.pop_back();
    }
  }
  return value;
}

void readAuth(const ConfigReader& r, herald::v1::AuthSettings* auth) {
  r.rejectUnknownKeys({"allow_anonymous", "issuer", "audience", "leeway_seconds", "keys",
                       "jwks_url", "jwks_refresh_seconds"});
  bool anonymous = false;
  r.readBool("allow_anonymous", &anonymous);
  auth->set_allow_anonymous(anonymous);
  std::string text;
  r.readString("issuer", &text);
  auth->set_issuer(text);
  text.clear();
  r.readString("audience", &text);
  auth->set_audience(text);
  uint32_t leeway = 0;
  r.readUint32("leeway_seconds", &leeway, 0, 600);
  auth->set_leeway_seconds(leeway);
  text.clear();
  r.readString("jwks_url", &text);
  auth->set_jwks_url(text);
  uint32_t refresh = 0;
  r.readUint32("jwks_refresh_seconds", &refresh, 0, 86400);
  auth->set_jwks_refresh_seconds(refresh);
  for (const auto& k : r.childList("keys")) {
    k.rejectUnknownKeys(
        {"kid", "algorithm", "secret", "secret_file", "public_key_pem", "public_key_file"});
    auto* key = auth->add_keys();
    std::string value;
    k.readString("kid", &value);
    key->set_kid(value);
    value.clear();
    k.readString("algorithm", &value);
    key->set_algorithm(value);
    key->set_secret(readSecret(k));
    value.clear();
    k.readString("public_key_pem", &value);
    if (k.has("public_key_file")) {
      std::string file;
      k.readString("public_key_file", &file);
      value = readWholeFile(k.where("public_key_file"), file);
    }
    key->set_public_key_pem(value);
  }
}

// `hooks`: the backends herald-node asks (docs/hooks.md); read at every start.
void readHooks(const ConfigReader& r, herald::v1::HookSettings* hooks) {
  r.rejectUnknownKeys(
      {"endpoints", "rpc", "connect", "connect_always", "connect_headers", "refresh"});
  for (const auto& e : r.childList("endpoints")) {
    e.rejectUnknownKeys(
        {"name", "url", "timeout_ms", "max_in_flight", "on_failure", "secret", "secret_file"});
    auto* endpoint = hooks->add_endpoints();
    std::string text;
    e.readString("name", &text);
    endpoint->set_name(text);
    text.clear();
    e.readString("url", &text);
    endpoint->set_url(text);
    endpoint->set_secret(readSecret(e));
    uint32_t value = 0;
    e.readUint32("timeout_ms", &value, 1, kMaxHookTimeoutMs);
    endpoint->set_timeout_ms(value);
    value = 0;
    e.readUint32("max_in_flight", &value, 1, kMaxHookInFlight);
    endpoint->set_max_in_flight(value);
    text.clear();
    e.readString("on_failure", &text);
    if (text == "allow") {
      endpoint->set_on_failure(herald::v1::HOOK_FAILURE_POLICY_ALLOW);
    } else if (text.empty() || text == "deny") {
      endpoint->set_on_failure(herald::v1::HOOK_FAILURE_POLICY_DENY);
    } else {
      throw ConfigError(e.where("on_failure") + ": '" + text + "' is not one of deny, allow");
    }
  }
  std::string name;
  r.readString("rpc", &name);
  hooks->set_rpc(name);
  name.clear();
  r.readString("connect", &name);
  hooks->set_connect(name);
  name.clear();
  r.readString("refresh", &name);
  hooks->set_refresh(name);
  bool always = false;
  r.readBool("connect_always", &always);
  hooks->set_connect_always(always);
  std::vector<std::string> headers;
  r.readStringList("connect_headers", &headers);
  for (auto& header : headers) {
    hooks->add_connect_headers(std::move(header));
  }
}

// `events`: what herald-control tells the backend (docs/hooks.md "Events").
void readEvents(const ConfigReader& r, EventSettings* events) {
  r.rejectUnknownKeys({"endpoints", "types", "queue_limit"});
  r.readStringList("endpoints", &events->endpoints);
  r.readStringList("types", &events->types);
  r.readUint32("queue_limit", &events->queue_limit, 1, kMaxEventQueueLimit);
}

}  // namespace

void loadControlConfigFile(const std::string& file, ControlConfig* config) {
  const nlohmann::json doc = ConfigReader::loadFile(file);
  ConfigReader r(doc, file);
  r.rejectUnknownKeys({"grpc_listen",
                       "http_listen",
                       "data_dir",
                       "heartbeat_interval_ms",
                       "node_timeout_ms",
                       "node_queue_limit",
                       "log_format",
                       "log_level",
                       "namespaces",
                       "limits",
                       "auth",
                       "node_secret",
                       "tls_cert",
                       "tls_key",
                       "tls_client_ca",
                       "engine",
                       "redis",
                       "allow_unauthenticated_nodes",
                       "hooks",
                       "events"});
  r.readBool("allow_unauthenticated_nodes", &config->allow_unauthenticated_nodes);
  r.readString("engine", &config->engine);
  r.readString("redis", &config->redis);
  r.readString("node_secret", &config->node_secret);
  r.readString("tls_cert", &config->tls_cert);
  r.readString("tls_key", &config->tls_key);
  r.readString("tls_client_ca", &config->tls_client_ca);
  r.readString("grpc_listen", &config->grpc_listen);
  r.readString("http_listen", &config->http_listen);
  r.readString("data_dir", &config->data_dir);
  r.readUint32("heartbeat_interval_ms", &config->heartbeat_interval_ms, 50, 600000);
  r.readUint32("node_timeout_ms", &config->node_timeout_ms, 100, 3600000);
  r.readUint32("node_queue_limit", &config->node_queue_limit, 1000, 100000000);
  r.readString("log_format", &config->log_format);
  r.readString("log_level", &config->log_level);
  config->file_sets_initial_state = r.has("namespaces") || r.has("limits") || r.has("auth");
  config->namespaces.clear();
  for (const auto& item : r.childList("namespaces")) {
    herald::v1::Namespace ns;
    readNamespace(item, &ns);
    config->namespaces.push_back(ns);
  }
  if (r.has("limits")) {
    readLimits(r.child("limits"), &config->limits);
  }
  if (r.has("auth")) {
    config->auth.Clear();
    readAuth(r.child("auth"), &config->auth);
  }
  config->hooks.Clear();
  if (r.has("hooks")) {
    readHooks(r.child("hooks"), &config->hooks);
  }
  config->events = EventSettings();
  if (r.has("events")) {
    readEvents(r.child("events"), &config->events);
  }
}

void validateControlConfig(const ControlConfig& config) {
  if (Status hooks = validateHookSettings(config.hooks); !hooks.isOk()) {
    throw ConfigError("hooks: " + hooks.message());
  }
  if (Status events = validateEventSettings(config.events, config.hooks); !events.isOk()) {
    throw ConfigError(events.message());
  }
  for (const auto& ns : config.namespaces) {
    if (Status hooks = checkNamespaceHooks(config.hooks, ns.subscribe_hook(), ns.publish_hook());
        !hooks.isOk()) {
      throw ConfigError("namespace '" + ns.name() + "': " + hooks.message());
    }
  }
  auto hp = parseHostPort(config.grpc_listen);
  if (!hp.isOk()) {
    throw ConfigError("grpc_listen: " + hp.status().message());
  }
  if (config.http_listen != "off") {
    if (auto http = parseHostPort(config.http_listen); !http.isOk()) {
      throw ConfigError("http_listen: " + http.status().message() + " (or \"off\")");
    }
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
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    throw ConfigError("tls_cert and tls_key go together");
  }
  if (!config.tls_client_ca.empty() && config.tls_cert.empty()) {
    throw ConfigError("tls_client_ca needs tls_cert and tls_key (mTLS is on top of TLS)");
  }
  if (!config.admin_key.empty() && config.admin_key.size() < 32) {
    throw ConfigError("admin key: at least 32 bytes");
  }
  if (!config.node_secret.empty() && config.node_secret.size() < 16) {
    throw ConfigError("node_secret: at least 16 bytes");
  }
  if (config.engine != "memory" && config.engine != "redis") {
    throw ConfigError("engine: '" + config.engine + "' is not memory or redis");
  }
  if (config.engine == "redis") {
    if (config.redis.empty()) {
      throw ConfigError("engine redis needs --redis URL[,URL...] (e.g. redis://127.0.0.1:6379)");
    }
    std::set<std::string> seen;
    for (const auto& item : splitRedisList(config.redis)) {
      auto address = parseRedisAddress(item);
      if (!address.isOk()) {
        throw ConfigError("redis: " + address.status().message());
      }
      const std::string where = address->sentinels.empty()
                                    ? address->host + ":" + std::to_string(address->port)
                                    : "sentinel " + address->master_name;
      if (!seen.insert(where + "/" + std::to_string(address->db)).second) {
        throw ConfigError("redis: '" + item + "' is listed twice");
      }
    }
  } else if (!config.redis.empty()) {
    throw ConfigError("redis is set but engine is memory (add --engine redis)");
  }
  Status auth = validateAuthSettings(config.auth);
  if (!auth.isOk()) {
    throw ConfigError("auth: " + auth.message());
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
  if (const char* env = std::getenv("HERALD_ADMIN_KEY"); env != nullptr) {
    config.admin_key = env;
  }
  if (const char* env = std::getenv("HERALD_NODE_SECRET"); env != nullptr) {
    config.node_secret = env;
  }
  FlagParser flags(kUsage);
  flags.addString("--grpc-listen", &config.grpc_listen);
  flags.addString("--http-listen", &config.http_listen);
  flags.addString("--data-dir", &config.data_dir);
  flags.addUint("--heartbeat-interval-ms", &config.heartbeat_interval_ms);
  flags.addUint("--node-timeout-ms", &config.node_timeout_ms);
  flags.addString("--admin-key", &config.admin_key);
  flags.addString("--node-secret", &config.node_secret);
  flags.addSwitch("--allow-unauthenticated-nodes", &config.allow_unauthenticated_nodes);
  flags.addString("--tls-cert", &config.tls_cert);
  flags.addString("--tls-key", &config.tls_key);
  flags.addString("--tls-client-ca", &config.tls_client_ca);
  flags.addString("--engine", &config.engine);
  flags.addString("--redis", &config.redis);
  flags.addString("--log-format", &config.log_format);
  flags.addString("--log-level", &config.log_level);
  flags.parse(argc, argv, [&](const std::string& file) { loadControlConfigFile(file, &config); });
  validateControlConfig(config);
  return config;
}

}  // namespace herald::control
