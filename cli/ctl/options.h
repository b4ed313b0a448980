#pragma once

// heraldctl's command line: the flags, where the address, TLS files and API key come from, and
// the context of one call.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

namespace herald::ctl {

struct Options {
  std::string control;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string api_key;
  std::string api_key_file;
  std::string api_key_read_from;  // the file the key came from, if it came from one
  std::string rule;
  std::optional<std::string> owner_claim;
  std::optional<std::string> subscribe_hook;  // namespaces: the hook rule's endpoint
  std::optional<std::string> publish_hook;    // namespaces: "" removes it
  std::string role;
  std::string name;
  std::optional<bool> client_publish;
  std::optional<bool> subscription_events;
  std::optional<bool> join_leave;
  int64_t history_size = -1;
  int64_t history_ttl = -1;
  int64_t max_subscribers = -1;
  int64_t conflate_ms = -1;  // namespaces: --conflate-ms
  int64_t smooth_ms = -1;    // namespaces: --smooth-ms
  std::string slow_consumer;
  std::string user;
  std::string client;       // subscribe, unsubscribe, refresh, disconnect: one connection
  int64_t expire_at = -1;   // refresh: Unix seconds, 0 never
  int64_t code = 0;         // disconnect: close code (0: 4100)
  std::string reason;       // disconnect
  int64_t block_until = 0;  // disconnect: refuse the user's new connections until then
  std::string epoch;
  int64_t since = -1;
  int64_t limit = -1;
  bool json = false;
  int timeout_s = 10;
  std::string event;
  std::map<std::string, std::string> tags;  // --tag KEY=VALUE (publish, broadcast)
  std::string idempotency_key;
  std::string channels;
  double rate = 4;
  int64_t duration_s = 0;
  int64_t count = 0;
  bool once = false;        // top: one frame, then exit
  double interval_s = 1.0;  // top: seconds between frames
  std::vector<std::string> args;
};

// Prints the message and the usage to stderr and exits with 2.
[[noreturn]] void usageError(const std::string& message);

// The flags and arguments, with the environment's defaults and the API key resolved; prints the
// usage and exits on --help or a usage error.
Options parseArgs(int argc, char** argv);

// The channel credentials: insecure, or TLS with the --tls-* files.
std::shared_ptr<grpc::ChannelCredentials> channelCredentials(const Options& o);

// A context for one call, with the deadline and the API key.
std::unique_ptr<grpc::ClientContext> newContext(const Options& o);

}  // namespace herald::ctl
