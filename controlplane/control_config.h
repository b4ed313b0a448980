#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "controlplane/events/event_settings.h"
#include "herald/v1/control.pb.h"
#include "herald/v1/hooks.pb.h"

namespace herald::control {

// Everything herald-control reads at start: flags override the JSON config file, which
// overrides the embedded defaults. Validated as a whole; errors throw herald::ConfigError.
struct ControlConfig {
  std::string grpc_listen = "127.0.0.1:7070";
  // /metrics, /health, the HTTP API and the dashboard; "off" serves no HTTP.
  std::string http_listen = "127.0.0.1:7071";
  std::string data_dir = "herald-data";
  uint32_t heartbeat_interval_ms = 1000;  // nodes send stats this often
  uint32_t node_timeout_ms = 5000;        // no heartbeat for this long: node marked unhealthy
  uint32_t node_queue_limit = 1000000;    // messages queued to one node before it is cut off
  std::string log_format = "human";
  std::string log_level = "info";
  // Applied at first start only (no state file yet); later changes go through the API.
  std::vector<herald::v1::Namespace> namespaces;
  herald::v1::Limits limits;
  herald::v1::AuthSettings auth;
  // The backends nodes ask (docs/hooks.md): read at every start, not stored with the state.
  herald::v1::HookSettings hooks;
  // What herald-control tells the backend, and which endpoints of `hooks` receive it.
  EventSettings events;
  // The config file set namespaces, limits or auth (used at first start only).
  bool file_sets_initial_state = false;
  // First admin API key, when the operator picks it (--admin-key / HERALD_ADMIN_KEY); else
  // one is generated at first start and printed once.
  std::string admin_key;
  // Shared secret every node must present in Hello (--node-secret / HERALD_NODE_SECRET);
  // empty = only nodes on this host (loopback) may join, unless client certificates are
  // required or allow_unauthenticated_nodes says otherwise.
  std::string node_secret;
  // Lets nodes on other hosts join without a secret or certificate (trusted networks only).
  bool allow_unauthenticated_nodes = false;
  // TLS for the gRPC port: certificate chain and key (PEM files); with a client CA, every
  // caller (nodes, heraldctl, backends) must present a certificate it signed (mTLS).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  // Where streams (offsets, epochs, history) live: "memory" (this process) or "redis" (shared
  // by every replica; `redis` lists the instances, channels spread over them by hashing).
  std::string engine = "memory";
  std::string redis;  // comma-separated redis://HOST:PORT[/DB]
};

// Parses argv. Prints help and exits 0 on --help; throws ConfigError on bad input.
ControlConfig parseControlArgs(int argc, char** argv);

// Reads a config file into `config` (unknown keys and wrong types are errors).
void loadControlConfigFile(const std::string& file, ControlConfig* config);

// Checks cross-field rules (timeouts, namespace names, duplicates).
void validateControlConfig(const ControlConfig& config);

}  // namespace herald::control
