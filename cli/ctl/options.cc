#include "cli/ctl/options.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "common/pem_file.h"

namespace herald::ctl {
namespace {

constexpr const char* kUsage =
    R"(usage: heraldctl [--control HOST:PORT] [--json] [--timeout SECONDS] COMMAND [args]

commands:
  publish CHANNEL JSON [--event NAME] [--idempotency-key KEY] [--tag KEY=VALUE]...
                           publish JSON to a channel; prints offset and epoch
  broadcast JSON [--event NAME] [--channels a,b] [--tag KEY=VALUE]...
                           send to every connection of every node (or publish to each channel)
  send-to-user USER JSON [--event NAME]
                           deliver to every connection of USER (kept in the user's history)
  history CHANNEL [--since OFFSET] [--epoch EPOCH] [--limit N]
  history --user USER [--since OFFSET] [--epoch EPOCH] [--limit N]
                           retained publications after OFFSET (default: all, at most 100)
  presence CHANNEL         connections subscribed to CHANNEL on every node
  subscribe CHANNEL --user USER|--client ID [--since OFFSET --epoch EPOCH]
                           subscribe every connection of USER (or one connection) to CHANNEL,
                           recovering from OFFSET when given; the client gets `subscribed`
  unsubscribe CHANNEL --user USER|--client ID
                           the reverse; the client gets `unsubscribed`
  refresh --user USER|--client ID --expire-at UNIX_SECONDS|0
                           move the connections' expiry (0: never expire)
  disconnect --user USER|--client ID [--code 4000..4999] [--reason TEXT]
             [--block-until UNIX_SECONDS]
                           close the connections (default code 4100); with --block-until,
                           refuse the user's new connections until then
  revoke-token JTI --expire-at UNIX_SECONDS
                           refuse the token with that jti claim until its expiry; connections
                           holding it close with 4004
  nodes                    list nodes with health and load
  stats                    cluster totals, and activity over 30 s, 1 min, 1 h and 1 day
  top [--once] [--interval SECONDS]
                           refreshing view of nodes, connections, deliveries/s and the top
                           channels (q or Ctrl-C quits); --once prints one frame
  channels [PREFIX]        channels with offsets, retained history, nodes and subscribers
  info                     control plane version and config version
  namespaces list | get NAME | delete NAME
  namespaces create|update NAME [--rule public|authenticated|owner|granted|hook]
                           [--owner-claim CLAIM] [--client-publish|--no-client-publish]
                           [--subscribe-hook ENDPOINT] [--publish-hook ENDPOINT|""]
                           [--subscription-events|--no-subscription-events]
                           [--join-leave|--no-join-leave]
                           [--history-size N] [--history-ttl SECONDS] [--max-subscribers N]
                           [--conflate-ms N] [--smooth-ms N]
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

}  // namespace

[[noreturn]] void usageError(const std::string& message) {
  std::fprintf(stderr, "heraldctl: %s\n\n%s", message.c_str(), kUsage);
  std::exit(2);
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
  // A Unix time in seconds (10 digits today; 12 allowed).
  auto unixSeconds = [&](const std::string& flag, const std::string& text) -> int64_t {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
        text.size() > 12) {
      usageError(flag + " needs Unix seconds");
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
    } else if (a == "--tag") {
      const std::string tag = value("--tag");
      const size_t eq = tag.find('=');
      if (eq == std::string::npos || eq == 0) {
        usageError("--tag needs KEY=VALUE, e.g. --tag source_chain=eth");
      }
      o.tags[tag.substr(0, eq)] = tag.substr(eq + 1);
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
    } else if (a == "--once") {
      o.once = true;
    } else if (a == "--interval") {
      const std::string text = value("--interval");
      char* end = nullptr;
      o.interval_s = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !(o.interval_s >= 0.2) || o.interval_s > 3600) {
        usageError("--interval needs seconds between frames in [0.2, 3600]");
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
    } else if (a == "--subscribe-hook") {
      o.subscribe_hook = value("--subscribe-hook");
    } else if (a == "--publish-hook") {
      o.publish_hook = value("--publish-hook");
    } else if (a == "--role") {
      o.role = value("--role");
    } else if (a == "--name") {
      o.name = value("--name");
    } else if (a == "--subscription-events") {
      o.subscription_events = true;
    } else if (a == "--no-subscription-events") {
      o.subscription_events = false;
    } else if (a == "--join-leave") {
      o.join_leave = true;
    } else if (a == "--no-join-leave") {
      o.join_leave = false;
    } else if (a == "--client-publish") {
      o.client_publish = true;
    } else if (a == "--no-client-publish") {
      o.client_publish = false;
    } else if (a == "--history-size") {
      o.history_size = number(a, value("--history-size"));
    } else if (a == "--history-ttl") {
      o.history_ttl = number(a, value("--history-ttl"));
    } else if (a == "--conflate-ms") {
      o.conflate_ms = number(a, value("--conflate-ms"));
    } else if (a == "--smooth-ms") {
      o.smooth_ms = number(a, value("--smooth-ms"));
    } else if (a == "--max-subscribers") {
      o.max_subscribers = number(a, value("--max-subscribers"));
    } else if (a == "--slow-consumer") {
      o.slow_consumer = value("--slow-consumer");
    } else if (a == "--user") {
      o.user = value("--user");
    } else if (a == "--client") {
      o.client = value("--client");
    } else if (a == "--expire-at") {
      o.expire_at = unixSeconds(a, value("--expire-at"));
    } else if (a == "--code") {
      o.code = number(a, value("--code"));
    } else if (a == "--reason") {
      o.reason = value("--reason");
    } else if (a == "--block-until") {
      o.block_until = unixSeconds(a, value("--block-until"));
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

std::shared_ptr<grpc::ChannelCredentials> channelCredentials(const Options& o) {
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
  return credentials;
}

std::unique_ptr<grpc::ClientContext> newContext(const Options& o) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(o.timeout_s));
  if (!o.api_key.empty()) {
    ctx->AddMetadata("authorization", "Bearer " + o.api_key);
  }
  return ctx;
}

}  // namespace herald::ctl
