// heraldctl: the admin's and script's view of the Control API.
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "cli/demo_feed.h"
#include "cli/table.h"
#include "common/pem_file.h"
#include "common/strings.h"
#include "herald/v1/control.grpc.pb.h"

namespace {

constexpr const char* kUsage =
    R"(usage: heraldctl [--control HOST:PORT] [--json] [--timeout SECONDS] COMMAND [args]

commands:
  publish CHANNEL JSON [--event NAME] [--idempotency-key KEY]
                           publish JSON to a channel; prints offset and epoch
  broadcast JSON [--event NAME] [--channels a,b]
                           send to every connection of every node (or publish to each channel)
  send-to-user USER JSON [--event NAME]
                           deliver to every connection of USER (kept in the user's history)
  history CHANNEL [--since OFFSET] [--epoch EPOCH] [--limit N]
  history --user USER [--since OFFSET] [--epoch EPOCH] [--limit N]
                           retained publications after OFFSET (default: all, at most 100)
  presence CHANNEL         connections subscribed to CHANNEL on every node
  nodes                    list nodes with health and load
  stats                    cluster totals
  channels [PREFIX]        channels with offsets, retained history, nodes and subscribers
  info                     control plane version and config version
  namespaces list | get NAME | delete NAME
  namespaces create|update NAME [--rule public|authenticated|owner|granted]
                           [--owner-claim CLAIM] [--client-publish|--no-client-publish]
                           [--history-size N] [--history-ttl SECONDS] [--max-subscribers N]
                           [--slow-consumer drop|disconnect|inherit]
                           (update changes only the settings given)
  limits get               cluster-wide limits (defaults filled in)
  limits set NAME=VALUE... change some limits, keep the others (names as in `limits get`)
  keys list | revoke ID    Control API keys (admin)
  keys create --role admin|publisher|reader [--name NAME]
                           prints the new key once
  demo-feed [--rate N] [--duration SECONDS] [--count N]
                           live prices and transfers on demo:prices and demo:transfers for
                           the demo page (http://NODE/demo); creates namespace 'demo' with
                           history if missing; 4/s until Ctrl-C by default

The control plane address comes from --control, else $HERALD_CONTROL, else 127.0.0.1:7070.
The API key comes from --api-key, else $HERALD_API_KEY, else the file --api-key-file (or
$HERALD_API_KEY_FILE) names, else, for a control plane on this host, ./herald-data/admin.key
when it exists (the key the first start of scripts/run.sh writes); it is sent as
authorization: Bearer KEY.
TLS: --tls-ca FILE (or $HERALD_TLS_CA) trusts the control plane's CA; add --tls-cert/--tls-key
($HERALD_TLS_CERT/$HERALD_TLS_KEY) when it requires client certificates.
--json prints the raw response as JSON (field names as in proto/herald/v1/control.proto).
Exit codes: 0 ok, 1 the call failed (message on stderr), 2 usage error.
)";

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
  std::string role;
  std::string name;
  std::optional<bool> client_publish;
  int64_t history_size = -1;
  int64_t history_ttl = -1;
  int64_t max_subscribers = -1;
  std::string slow_consumer;
  std::string user;
  std::string epoch;
  int64_t since = -1;
  int64_t limit = -1;
  bool json = false;
  int timeout_s = 10;
  std::string event;
  std::string idempotency_key;
  std::string channels;
  double rate = 4;
  int64_t duration_s = 0;
  int64_t count = 0;
  std::vector<std::string> args;
};

[[noreturn]] void usageError(const std::string& message) {
  std::fprintf(stderr, "heraldctl: %s\n\n%s", message.c_str(), kUsage);
  std::exit(2);
}

// The key of --api-key-file / $HERALD_API_KEY_FILE, else of ./herald-data/admin.key, when no
// key was given directly: the tour's commands then work as pasted next to run.sh.
void resolveApiKeyFile(Options* o) {
  if (!o->api_key.empty()) {
    return;
  }
  std::string path = o->api_key_file;
  if (const char* env = std::getenv("HERALD_API_KEY_FILE"); path.empty() && env != nullptr) {
    path = env;
  }
  const bool named = !path.empty();
  if (!named) {
    // The local development key goes to a local control plane only.
    const std::string& c = o->control;
    const bool local =
        c.rfind("127.", 0) == 0 || c.rfind("localhost:", 0) == 0 || c.rfind("[::1]:", 0) == 0;
    if (!local) {
      return;
    }
    path = "herald-data/admin.key";
  }
  std::ifstream in(path);
  if (!in) {
    if (named) {
      usageError("cannot read the API key file " + path);
    }
    return;
  }
  std::getline(in, o->api_key);
  o->api_key_read_from = path;
  while (!o->api_key.empty() && std::isspace(static_cast<unsigned char>(o->api_key.back()))) {
    o->api_key.pop_back();
  }
  if (named && o->api_key.empty()) {
    usageError("the API key file " + path + " is empty");
  }
}

Options parseArgs(int argc, char** argv) {
  Options o;
  const char* env = std::getenv("HERALD_CONTROL");
  o.control = env != nullptr && *env != '\0' ? env : "127.0.0.1:7070";
  if (const char* key = std::getenv("HERALD_API_KEY"); key != nullptr) {
    o.api_key = key;
  }
  for (auto [env_name, field] :
       {std::pair{"HERALD_TLS_CA", &o.tls_ca}, std::pair{"HERALD_TLS_CERT", &o.tls_cert},
        std::pair{"HERALD_TLS_KEY", &o.tls_key}}) {
    if (const char* v = std::getenv(env_name); v != nullptr) {
      *field = v;
    }
  }
  auto number = [&](const std::string& flag, const std::string& text) -> int64_t {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
        text.size() > 9) {
      usageError(flag + " needs a non-negative number");
    }
    return std::stoll(text);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) -> std::string {
      if (i + 1 >= argc) {
        usageError(std::string(flag) + " needs a value");
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--control") {
      o.control = value("--control");
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--timeout") {
      o.timeout_s = std::atoi(value("--timeout").c_str());
      if (o.timeout_s <= 0) {
        usageError("--timeout must be a positive number of seconds");
      }
    } else if (a == "--event") {
      o.event = value("--event");
    } else if (a == "--idempotency-key") {
      o.idempotency_key = value("--idempotency-key");
    } else if (a == "--channels") {
      o.channels = value("--channels");
    } else if (a == "--rate") {
      const std::string text = value("--rate");
      char* end = nullptr;
      o.rate = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !(o.rate > 0) || o.rate > 10000) {
        usageError("--rate needs a number of publications per second in (0, 10000]");
      }
    } else if (a == "--duration") {
      o.duration_s = number(a, value("--duration"));
    } else if (a == "--count") {
      o.count = number(a, value("--count"));
    } else if (a == "--api-key") {
      o.api_key = value("--api-key");
    } else if (a == "--api-key-file") {
      o.api_key_file = value("--api-key-file");
    } else if (a == "--tls-ca") {
      o.tls_ca = value("--tls-ca");
    } else if (a == "--tls-cert") {
      o.tls_cert = value("--tls-cert");
    } else if (a == "--tls-key") {
      o.tls_key = value("--tls-key");
    } else if (a == "--rule") {
      o.rule = value("--rule");
    } else if (a == "--owner-claim") {
      o.owner_claim = value("--owner-claim");
    } else if (a == "--role") {
      o.role = value("--role");
    } else if (a == "--name") {
      o.name = value("--name");
    } else if (a == "--client-publish") {
      o.client_publish = true;
    } else if (a == "--no-client-publish") {
      o.client_publish = false;
    } else if (a == "--history-size") {
      o.history_size = number(a, value("--history-size"));
    } else if (a == "--history-ttl") {
      o.history_ttl = number(a, value("--history-ttl"));
    } else if (a == "--max-subscribers") {
      o.max_subscribers = number(a, value("--max-subscribers"));
    } else if (a == "--slow-consumer") {
      o.slow_consumer = value("--slow-consumer");
    } else if (a == "--user") {
      o.user = value("--user");
    } else if (a == "--epoch") {
      o.epoch = value("--epoch");
    } else if (a == "--since") {
      const std::string text = value("--since");
      if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
          text.size() > 19) {
        usageError("--since needs a non-negative number");
      }
      o.since = std::stoll(text);
    } else if (a == "--limit") {
      o.limit = number(a, value("--limit"));
    } else if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
      usageError("unknown flag " + a);
    } else {
      o.args.push_back(a);
    }
  }
  if (o.args.empty()) {
    usageError("no command given");
  }
  resolveApiKeyFile(&o);
  return o;
}

std::string toJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

int fail(const std::string& what, const grpc::Status& status, const Options& o) {
  static const std::map<int, const char*> kNames = {
      {1, "CANCELLED"},           {2, "UNKNOWN"},
      {3, "INVALID_ARGUMENT"},    {4, "DEADLINE_EXCEEDED"},
      {5, "NOT_FOUND"},           {6, "ALREADY_EXISTS"},
      {7, "PERMISSION_DENIED"},   {8, "RESOURCE_EXHAUSTED"},
      {9, "FAILED_PRECONDITION"}, {12, "UNIMPLEMENTED"},
      {13, "INTERNAL"},           {14, "UNAVAILABLE"},
      {16, "UNAUTHENTICATED"}};
  auto it = kNames.find(status.error_code());
  std::fprintf(stderr, "heraldctl: %s failed: %s: %s\n", what.c_str(),
               it == kNames.end() ? "ERROR" : it->second, status.error_message().c_str());
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED && o.api_key.empty()) {
    std::fprintf(stderr,
                 "heraldctl: no API key given (--api-key, HERALD_API_KEY, --api-key-file or "
                 "HERALD_API_KEY_FILE)\n");
  } else if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED &&
             !o.api_key_read_from.empty()) {
    std::fprintf(stderr, "heraldctl: the key in %s was refused (from another data directory?)\n",
                 o.api_key_read_from.c_str());
  }
  // herald-control's own dependencies (Redis) also answer UNAVAILABLE, with their name first.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      status.error_message().rfind("redis", 0) != 0) {
    std::fprintf(stderr,
                 "heraldctl: is herald-control running at %s? (--control or "
                 "HERALD_CONTROL)\n",
                 o.control.c_str());
  }
  return 1;
}

const char* healthName(herald::v1::NodeHealth h) {
  switch (h) {
    case herald::v1::NODE_HEALTH_HEALTHY:
      return "healthy";
    case herald::v1::NODE_HEALTH_UNHEALTHY:
      return "unhealthy";
    case herald::v1::NODE_HEALTH_DRAINING:
      return "draining";
    default:
      return "unknown";
  }
}

// A context for one call, with the deadline and the API key.
std::unique_ptr<grpc::ClientContext> newContext(const Options& o) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(o.timeout_s));
  if (!o.api_key.empty()) {
    ctx->AddMetadata("authorization", "Bearer " + o.api_key);
  }
  return ctx;
}

const char* policyName(herald::v1::SlowConsumerPolicy p) {
  switch (p) {
    case herald::v1::SLOW_CONSUMER_POLICY_DROP:
      return "drop";
    case herald::v1::SLOW_CONSUMER_POLICY_DISCONNECT:
      return "disconnect";
    default:
      return "inherit";
  }
}

std::optional<herald::v1::SlowConsumerPolicy> parsePolicy(const std::string& text) {
  if (text == "drop") {
    return herald::v1::SLOW_CONSUMER_POLICY_DROP;
  }
  if (text == "disconnect") {
    return herald::v1::SLOW_CONSUMER_POLICY_DISCONNECT;
  }
  if (text == "inherit") {
    return herald::v1::SLOW_CONSUMER_POLICY_UNSPECIFIED;
  }
  return std::nullopt;
}

std::string formatTime(int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03dZ", buf, static_cast<int>(unix_ms % 1000));
  return out;
}

void printNamespaces(const std::vector<herald::v1::Namespace>& list) {
  herald::cli::Table t({"NAMESPACE", "RULE", "OWNER CLAIM", "CLIENT PUBLISH", "HISTORY", "TTL",
                        "MAX SUBS", "SLOW CONSUMER"});
  for (const auto& n : list) {
    std::string rule = "public";
    switch (n.subscribe_rule()) {
      case herald::v1::SUBSCRIBE_RULE_AUTHENTICATED:
        rule = "authenticated";
        break;
      case herald::v1::SUBSCRIBE_RULE_OWNER:
        rule = "owner";
        break;
      case herald::v1::SUBSCRIBE_RULE_GRANTED:
        rule = "granted";
        break;
      default:
        break;
    }
    t.add({n.name().empty() ? "(default)" : n.name(), rule,
           n.owner_claim().empty() ? "-" : n.owner_claim(), n.allow_client_publish() ? "yes" : "no",
           std::to_string(n.history_size()), std::to_string(n.history_ttl_seconds()),
           std::to_string(n.max_subscribers()), policyName(n.slow_consumer_policy())});
  }
  t.print(stdout);
}

int namespacesCommand(herald::v1::Control::Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  const std::string sub = o.args.size() > 1 ? o.args[1] : "list";
  if (sub == "list") {
    herald::v1::ListNamespacesRequest req;
    req.set_page_size(1000);
    herald::v1::ListNamespacesResponse resp;
    grpc::Status s = stub.ListNamespaces(&ctx, req, &resp);
    if (!s.ok()) {
      return fail("namespaces list", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
    } else {
      printNamespaces({resp.namespaces().begin(), resp.namespaces().end()});
    }
    return 0;
  }
  if (o.args.size() != 3) {
    usageError("namespaces " + sub + " needs NAME (\"\" for the default namespace)");
  }
  const std::string& name = o.args[2];
  if (sub == "get") {
    herald::v1::GetNamespaceRequest req;
    req.set_name(name);
    herald::v1::GetNamespaceResponse resp;
    grpc::Status s = stub.GetNamespace(&ctx, req, &resp);
    if (!s.ok()) {
      return fail("namespaces get", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
    } else {
      printNamespaces({resp.namespace_()});
    }
    return 0;
  }
  if (sub == "delete") {
    herald::v1::DeleteNamespaceRequest req;
    req.set_name(name);
    herald::v1::DeleteNamespaceResponse resp;
    grpc::Status s = stub.DeleteNamespace(&ctx, req, &resp);
    if (!s.ok()) {
      return fail("namespaces delete", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
    } else {
      std::printf("deleted namespace '%s' (config version %llu)\n", name.c_str(),
                  static_cast<unsigned long long>(resp.config_version()));
    }
    return 0;
  }
  if (sub != "create" && sub != "update") {
    usageError("namespaces: unknown subcommand '" + sub + "'");
  }
  // update changes only what the flags name: read the namespace first.
  herald::v1::Namespace ns;
  ns.set_name(name);
  ns.set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_PUBLIC);
  if (sub == "update") {
    herald::v1::GetNamespaceRequest get;
    get.set_name(name);
    herald::v1::GetNamespaceResponse current;
    auto read_ctx = newContext(o);  // a ClientContext serves one call only
    grpc::Status s = stub.GetNamespace(read_ctx.get(), get, &current);
    if (!s.ok()) {
      return fail("namespaces update", s, o);
    }
    ns = current.namespace_();
  }
  const std::string rule = o.rule;
  if (rule.empty()) {
    // keep
  } else if (rule == "public") {
    ns.set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_PUBLIC);
  } else if (rule == "authenticated") {
    ns.set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_AUTHENTICATED);
  } else if (rule == "owner") {
    ns.set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_OWNER);
  } else if (rule == "granted") {
    ns.set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_GRANTED);
  } else {
    usageError("--rule must be public, authenticated, owner or granted");
  }
  if (o.owner_claim) {
    ns.set_owner_claim(*o.owner_claim);
  } else if (!rule.empty() && rule != "owner") {
    ns.clear_owner_claim();  // only the owner rule has one
  }
  if (o.client_publish) {
    ns.set_allow_client_publish(*o.client_publish);
  }
  if (o.history_size >= 0) {
    ns.set_history_size(static_cast<uint32_t>(o.history_size));
  }
  if (o.history_ttl >= 0) {
    ns.set_history_ttl_seconds(static_cast<uint32_t>(o.history_ttl));
  }
  if (o.max_subscribers >= 0) {
    ns.set_max_subscribers(static_cast<uint32_t>(o.max_subscribers));
  }
  if (!o.slow_consumer.empty()) {
    auto policy = parsePolicy(o.slow_consumer);
    if (!policy) {
      usageError("--slow-consumer must be drop, disconnect or inherit");
    }
    ns.set_slow_consumer_policy(*policy);
  }
  grpc::Status s;
  uint64_t version = 0;
  google::protobuf::Message* shown = nullptr;
  herald::v1::CreateNamespaceResponse created;
  herald::v1::UpdateNamespaceResponse updated;
  if (sub == "create") {
    herald::v1::CreateNamespaceRequest req;
    *req.mutable_namespace_() = ns;
    s = stub.CreateNamespace(&ctx, req, &created);
    version = created.config_version();
    shown = &created;
  } else {
    herald::v1::UpdateNamespaceRequest req;
    *req.mutable_namespace_() = ns;
    s = stub.UpdateNamespace(&ctx, req, &updated);
    version = updated.config_version();
    shown = &updated;
  }
  if (!s.ok()) {
    return fail("namespaces " + sub, s, o);
  }
  if (o.json) {
    std::cout << toJson(*shown);
  } else {
    std::printf("%s namespace '%s' (config version %llu, pushed to every node)\n",
                sub == "create" ? "created" : "updated", name.c_str(),
                static_cast<unsigned long long>(version));
  }
  return 0;
}

int limitsCommand(herald::v1::Control::Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  const std::string sub = o.args.size() > 1 ? o.args[1] : "get";
  herald::v1::GetLimitsResponse current;
  grpc::Status s = stub.GetLimits(&ctx, herald::v1::GetLimitsRequest(), &current);
  if (!s.ok()) {
    return fail("limits get", s, o);
  }
  const auto* descriptor = herald::v1::Limits::descriptor();
  const auto* reflection = herald::v1::Limits::GetReflection();
  if (sub == "get") {
    if (o.json) {
      std::cout << toJson(current);
      return 0;
    }
    herald::cli::Table t({"LIMIT", "VALUE"});
    for (int i = 0; i < descriptor->field_count(); ++i) {
      const auto* field = descriptor->field(i);
      std::string value;
      if (field->is_repeated()) {
        for (int j = 0; j < reflection->FieldSize(current.limits(), field); ++j) {
          value += (j ? "," : "") + reflection->GetRepeatedString(current.limits(), field, j);
        }
        value = value.empty() ? "(any)" : value;
      } else if (field->type() == google::protobuf::FieldDescriptor::TYPE_ENUM) {
        value = policyName(static_cast<herald::v1::SlowConsumerPolicy>(
            reflection->GetEnumValue(current.limits(), field)));
      } else {
        value = std::to_string(reflection->GetUInt32(current.limits(), field));
      }
      t.add({field->name(), value});
    }
    t.print(stdout);
    std::printf("config version %llu\n", static_cast<unsigned long long>(current.config_version()));
    return 0;
  }
  if (sub != "set" || o.args.size() < 3) {
    usageError(
        "limits set NAME=VALUE [NAME=VALUE...], e.g. limits set "
        "max_subscriptions_per_connection=100");
  }
  herald::v1::Limits limits = current.limits();
  for (size_t i = 2; i < o.args.size(); ++i) {
    const std::string& kv = o.args[i];
    const size_t eq = kv.find('=');
    const auto* field =
        eq == std::string::npos ? nullptr : descriptor->FindFieldByName(kv.substr(0, eq));
    if (field == nullptr) {
      usageError("unknown limit in '" + kv + "' (see `heraldctl limits get`)");
    }
    const std::string value = kv.substr(eq + 1);
    if (field->is_repeated()) {
      reflection->ClearField(&limits, field);
      for (const auto& item : herald::splitNonEmpty(value, ',')) {
        reflection->AddString(&limits, field, item);
      }
    } else if (field->type() == google::protobuf::FieldDescriptor::TYPE_ENUM) {
      auto policy = parsePolicy(value);
      if (!policy || *policy == herald::v1::SLOW_CONSUMER_POLICY_UNSPECIFIED) {
        usageError(field->name() + " must be drop or disconnect");
      }
      reflection->SetEnumValue(&limits, field, *policy);
    } else {
      if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos ||
          value.size() > 9) {
        usageError(field->name() + " needs a non-negative number");
      }
      reflection->SetUInt32(&limits, field, static_cast<uint32_t>(std::stoul(value)));
    }
  }
  auto set_ctx = newContext(o);
  herald::v1::SetLimitsRequest req;
  *req.mutable_limits() = limits;
  herald::v1::SetLimitsResponse resp;
  s = stub.SetLimits(set_ctx.get(), req, &resp);
  if (!s.ok()) {
    return fail("limits set", s, o);
  }
  if (o.json) {
    std::cout << toJson(resp);
  } else {
    std::printf("limits updated (config version %llu, pushed to every node)\n",
                static_cast<unsigned long long>(resp.config_version()));
  }
  return 0;
}

int keysCommand(herald::v1::Control::Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  const std::string sub = o.args.size() > 1 ? o.args[1] : "list";
  if (sub == "list") {
    herald::v1::ListApiKeysResponse resp;
    grpc::Status s = stub.ListApiKeys(&ctx, herald::v1::ListApiKeysRequest(), &resp);
    if (!s.ok()) {
      return fail("keys list", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
      return 0;
    }
    herald::cli::Table t({"ID", "ROLE", "NAME", "CREATED (unix ms)"});
    for (const auto& k : resp.keys()) {
      const char* role = k.role() == herald::v1::API_KEY_ROLE_ADMIN       ? "admin"
                         : k.role() == herald::v1::API_KEY_ROLE_PUBLISHER ? "publisher"
                                                                          : "reader";
      t.add({k.id(), role, k.name().empty() ? "-" : k.name(), std::to_string(k.created_unix_ms())});
    }
    t.print(stdout);
    return 0;
  }
  if (sub == "revoke") {
    if (o.args.size() != 3) {
      usageError("keys revoke needs the key ID (see `heraldctl keys list`)");
    }
    herald::v1::RevokeApiKeyRequest req;
    req.set_id(o.args[2]);
    herald::v1::RevokeApiKeyResponse resp;
    grpc::Status s = stub.RevokeApiKey(&ctx, req, &resp);
    if (!s.ok()) {
      return fail("keys revoke", s, o);
    }
    std::printf("revoked key %s\n", o.args[2].c_str());
    return 0;
  }
  if (sub != "create") {
    usageError("keys: unknown subcommand '" + sub + "'");
  }
  herald::v1::CreateApiKeyRequest req;
  if (o.role == "admin") {
    req.set_role(herald::v1::API_KEY_ROLE_ADMIN);
  } else if (o.role == "publisher") {
    req.set_role(herald::v1::API_KEY_ROLE_PUBLISHER);
  } else if (o.role == "reader") {
    req.set_role(herald::v1::API_KEY_ROLE_READER);
  } else {
    usageError("keys create needs --role admin, publisher or reader");
  }
  req.set_name(o.name);
  herald::v1::CreateApiKeyResponse resp;
  grpc::Status s = stub.CreateApiKey(&ctx, req, &resp);
  if (!s.ok()) {
    return fail("keys create", s, o);
  }
  if (o.json) {
    std::cout << toJson(resp);
  } else {
    std::printf("created %s key %s; the key (shown only now):\n%s\n", o.role.c_str(),
                resp.key().id().c_str(), resp.secret().c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parseArgs(argc, argv);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!o.tls_ca.empty()) {
    grpc::SslCredentialsOptions tls;
    try {
      tls.pem_root_certs = herald::readPemFile(o.tls_ca, "--tls-ca");
      if (!o.tls_cert.empty()) {
        tls.pem_cert_chain = herald::readPemFile(o.tls_cert, "--tls-cert");
        tls.pem_private_key = herald::readPemFile(o.tls_key, "--tls-key");
      }
    } catch (const std::exception& e) {
      usageError(e.what());
    }
    credentials = grpc::SslCredentials(tls);
  }
  auto channel = grpc::CreateChannel(o.control, credentials);
  auto stub = herald::v1::Control::NewStub(channel);
  auto ctx_holder = newContext(o);
  grpc::ClientContext& ctx = *ctx_holder;
  const std::string& cmd = o.args[0];
  const size_t nargs = o.args.size() - 1;

  if (cmd == "demo-feed") {
    if (nargs != 0) {
      usageError("demo-feed takes no arguments (options: --rate, --duration, --count)");
    }
    herald::cli::DemoFeedOptions feed;
    feed.rate = o.rate;
    feed.duration_s = o.duration_s;
    feed.count = o.count;
    return herald::cli::runDemoFeed(
        *stub, [&o] { return newContext(o); }, feed,
        [&o](const std::string& what, const grpc::Status& s) { return fail(what, s, o); });
  }
  if (cmd == "publish") {
    if (nargs != 2) {
      usageError("publish needs CHANNEL and JSON, e.g. publish token:price '{\"price\":1}'");
    }
    herald::v1::PublishRequest req;
    req.set_channel(o.args[1]);
    req.set_data(o.args[2]);
    req.set_event(o.event);
    req.set_idempotency_key(o.idempotency_key);
    herald::v1::PublishResponse resp;
    grpc::Status s = stub->Publish(&ctx, req, &resp);
    if (!s.ok()) {
      return fail("publish", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
    } else {
      std::printf("published to %s: offset %llu, epoch %s, %u node(s)%s\n", o.args[1].c_str(),
                  static_cast<unsigned long long>(resp.offset()), resp.epoch().c_str(),
                  resp.nodes(), resp.duplicate() ? " (duplicate: not delivered again)" : "");
    }
    return 0;
  }
  if (cmd == "broadcast") {
    if (nargs != 1) {
      usageError("broadcast needs JSON, e.g. broadcast '{\"notice\":\"maintenance\"}'");
    }
    herald::v1::BroadcastRequest req;
    req.set_data(o.args[1]);
    req.set_event(o.event);
    for (const auto& c : herald::splitNonEmpty(o.channels, ',')) {
      req.add_channels(c);
    }
    herald::v1::BroadcastResponse resp;
    grpc::Status s = stub->Broadcast(&ctx, req, &resp);
    if (!s.ok()) {
      return fail("broadcast", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
    } else if (req.channels_size() == 0) {
      std::printf("broadcast sent to %u node(s)\n", resp.nodes());
    } else {
      for (int i = 0; i < resp.results_size(); ++i) {
        std::printf("published to %s: offset %llu, epoch %s\n", req.channels(i).c_str(),
                    static_cast<unsigned long long>(resp.results(i).offset()),
                    resp.results(i).epoch().c_str());
      }
    }
    return 0;
  }
  if (cmd == "nodes") {
    herald::v1::ListNodesResponse resp;
    grpc::Status s = stub->ListNodes(&ctx, herald::v1::ListNodesRequest(), &resp);
    if (!s.ok()) {
      return fail("nodes", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
      return 0;
    }
    // A Redis-backed cluster: its control-plane replicas first, then every node with its replica.
    const bool cluster = resp.replicas_size() > 0;
    if (cluster) {
      herald::cli::Table r({"REPLICA", "HEALTH", "NODES", "PUBLICATIONS", "LAST SEEN (UTC)"});
      for (const auto& rep : resp.replicas()) {
        r.add({rep.replica_id() + (rep.self() ? " (this one)" : ""),
               rep.healthy() ? "healthy" : "unhealthy", std::to_string(rep.nodes()),
               std::to_string(rep.publications()), formatTime(rep.last_seen_unix_ms())});
      }
      r.print(stdout);
      std::printf("\n");
    }
    std::vector<std::string> header = {"NODE",     "ADDRESS", "HEALTH",  "CONNS",  "SUBS",
                                       "CHANNELS", "MSG IN",  "MSG OUT", "CONFIG", "LAST NACK"};
    if (cluster) {
      header.insert(header.begin() + 2, "REPLICA");
    }
    herald::cli::Table t(header);
    for (const auto& n : resp.nodes()) {
      std::vector<std::string> row = {n.node_id(),
                                      n.address(),
                                      healthName(n.health()),
                                      std::to_string(n.connections()),
                                      std::to_string(n.subscriptions()),
                                      std::to_string(n.channels()),
                                      std::to_string(n.messages_in()),
                                      std::to_string(n.messages_out()),
                                      std::to_string(n.config_version_acked()),
                                      n.last_nack_error().empty() ? "-" : n.last_nack_error()};
      if (cluster) {
        row.insert(row.begin() + 2, n.replica().empty() ? "-" : n.replica());
      }
      t.add(row);
    }
    t.print(stdout);
    if (resp.nodes_size() == 0) {
      std::printf("(no nodes connected)\n");
    }
    return 0;
  }
  if (cmd == "stats") {
    herald::v1::ClusterStatsResponse resp;
    grpc::Status s = stub->ClusterStats(&ctx, herald::v1::ClusterStatsRequest(), &resp);
    if (!s.ok()) {
      return fail("stats", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
      return 0;
    }
    herald::cli::Table t({"METRIC", "VALUE"});
    t.add({"control-plane replicas", std::to_string(resp.replicas()) + " (" +
                                         std::to_string(resp.healthy_replicas()) + " healthy)"});
    t.add({"nodes", std::to_string(resp.nodes())});
    t.add({"healthy nodes", std::to_string(resp.healthy_nodes())});
    t.add({"connections", std::to_string(resp.connections())});
    t.add({"users", std::to_string(resp.users())});
    t.add({"subscriptions", std::to_string(resp.subscriptions())});
    t.add({"channels", std::to_string(resp.channels())});
    t.add({"messages in", std::to_string(resp.messages_in())});
    t.add({"messages out", std::to_string(resp.messages_out())});
    t.add({"publications", std::to_string(resp.publications())});
    t.add({"config version", std::to_string(resp.config_version())});
    t.print(stdout);
    return 0;
  }
  if (cmd == "channels") {
    herald::v1::ListChannelsRequest req;
    if (nargs >= 1) {
      req.set_prefix(o.args[1]);
    }
    req.set_page_size(1000);
    herald::v1::ListChannelsResponse resp;
    grpc::Status s = stub->ListChannels(&ctx, req, &resp);
    if (!s.ok()) {
      return fail("channels", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
      return 0;
    }
    herald::cli::Table t({"CHANNEL", "OFFSET", "EPOCH", "HISTORY", "NODES", "SUBSCRIBERS"});
    for (const auto& c : resp.channels()) {
      t.add({c.channel(), std::to_string(c.offset()), c.epoch().empty() ? "-" : c.epoch(),
             std::to_string(c.history()), std::to_string(c.nodes()),
             std::to_string(c.subscribers())});
    }
    t.print(stdout);
    if (!resp.next_page_token().empty()) {
      std::printf("(more channels: narrow with a PREFIX)\n");
    }
    return 0;
  }
  if (cmd == "send-to-user") {
    if (nargs != 2) {
      usageError("send-to-user needs USER and JSON, e.g. send-to-user alice '{\"n\":1}'");
    }
    herald::v1::SendToUserRequest req;
    req.set_user(o.args[1]);
    req.set_data(o.args[2]);
    req.set_event(o.event);
    herald::v1::SendToUserResponse resp;
    grpc::Status s = stub->SendToUser(&ctx, req, &resp);
    if (!s.ok()) {
      return fail("send-to-user", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
    } else {
      std::printf("sent to %s: offset %llu, epoch %s, %u node(s) with a connection\n",
                  o.args[1].c_str(), static_cast<unsigned long long>(resp.offset()),
                  resp.epoch().c_str(), resp.nodes());
    }
    return 0;
  }
  if (cmd == "history") {
    if ((nargs == 1) == !o.user.empty()) {
      usageError("history needs CHANNEL or --user USER (not both)");
    }
    herald::v1::HistoryRequest req;
    if (nargs == 1) {
      req.set_channel(o.args[1]);
    }
    req.set_user(o.user);
    req.set_since_offset(o.since < 0 ? 0 : static_cast<uint64_t>(o.since));
    req.set_epoch(o.epoch);
    req.set_limit(o.limit < 0 ? 0 : static_cast<uint32_t>(o.limit));
    herald::v1::HistoryResponse resp;
    grpc::Status s = stub->History(&ctx, req, &resp);
    if (!s.ok()) {
      return fail("history", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
      return 0;
    }
    herald::cli::Table t({"OFFSET", "TIME (UTC)", "EVENT", "FROM", "DATA"});
    for (const auto& p : resp.publications()) {
      std::string data = p.data();
      if (data.size() > 80) {
        data = data.substr(0, 77) + "...";
      }
      // FROM: the sending client's user for client publications ("-" for the Control API).
      std::string from = p.publisher_client().empty() ? "-"
                         : p.publisher_user().empty() ? "(anonymous)"
                                                      : p.publisher_user();
      t.add({std::to_string(p.offset()), formatTime(p.ts_unix_ms()),
             p.event().empty() ? "-" : p.event(), from, data});
    }
    t.print(stdout);
    std::printf("current offset %llu, epoch %s; %s\n",
                static_cast<unsigned long long>(resp.offset()),
                resp.epoch().empty() ? "-" : resp.epoch().c_str(),
                resp.recovered() ? "complete after the given offset"
                                 : "NOT complete: the history does not reach back that far, "
                                   "the epoch differs, or the namespace keeps no history");
    return 0;
  }
  if (cmd == "presence") {
    if (nargs != 1) {
      usageError("presence needs CHANNEL");
    }
    herald::v1::PresenceRequest req;
    req.set_channel(o.args[1]);
    herald::v1::PresenceResponse resp;
    grpc::Status s = stub->Presence(&ctx, req, &resp);
    if (!s.ok()) {
      return fail("presence", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
      return 0;
    }
    herald::cli::Table t({"USER", "CLIENT", "NODE"});
    for (const auto& e : resp.entries()) {
      t.add({e.user().empty() ? "(anonymous)" : e.user(), e.client(), e.node_id()});
    }
    t.print(stdout);
    std::printf(
        "%llu connection(s), %u user(s)%s%s\n", static_cast<unsigned long long>(resp.connections()),
        resp.users(), resp.truncated() ? "; list truncated" : "",
        resp.nodes_unanswered() > 0
            ? ("; " + std::to_string(resp.nodes_unanswered()) + " node(s) did not answer").c_str()
            : "");
    return 0;
  }
  if (cmd == "info") {
    herald::v1::InfoResponse resp;
    grpc::Status s = stub->Info(&ctx, herald::v1::InfoRequest(), &resp);
    if (!s.ok()) {
      return fail("info", s, o);
    }
    if (o.json) {
      std::cout << toJson(resp);
      return 0;
    }
    std::printf("herald-control %s at %s, engine %s, config version %llu\n", resp.version().c_str(),
                resp.grpc_listen().c_str(), resp.engine().c_str(),
                static_cast<unsigned long long>(resp.config_version()));
    return 0;
  }
  if (cmd == "namespaces") {
    return namespacesCommand(*stub, ctx, o);
  }
  if (cmd == "limits") {
    return limitsCommand(*stub, ctx, o);
  }
  if (cmd == "keys") {
    return keysCommand(*stub, ctx, o);
  }
  usageError("unknown command '" + cmd + "'");
}
