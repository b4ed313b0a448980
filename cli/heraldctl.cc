// heraldctl: the admin's and script's view of the Control API.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "cli/table.h"
#include "herald/v1/control.grpc.pb.h"

namespace {

constexpr const char* kUsage =
    R"(usage: heraldctl [--control HOST:PORT] [--json] [--timeout SECONDS] COMMAND [args]

commands:
  publish CHANNEL JSON [--event NAME] [--idempotency-key KEY]
                           publish JSON to a channel; prints offset and epoch
  broadcast JSON [--event NAME] [--channels a,b]
                           send to every connection of every node (or publish to each channel)
  nodes                    list nodes with health and load
  stats                    cluster totals
  channels [PREFIX]        channels with offsets and interested nodes
  info                     control plane version and config version

The control plane address comes from --control, else $HERALD_CONTROL, else 127.0.0.1:7070.
--json prints the raw response as JSON (field names as in proto/herald/v1/control.proto).
Exit codes: 0 ok, 1 the call failed (message on stderr), 2 usage error.
)";

struct Options {
  std::string control;
  bool json = false;
  int timeout_s = 10;
  std::string event;
  std::string idempotency_key;
  std::string channels;
  std::vector<std::string> args;
};

[[noreturn]] void usageError(const std::string& message) {
  std::fprintf(stderr, "heraldctl: %s\n\n%s", message.c_str(), kUsage);
  std::exit(2);
}

Options parseArgs(int argc, char** argv) {
  Options o;
  const char* env = std::getenv("HERALD_CONTROL");
  o.control = env != nullptr && *env != '\0' ? env : "127.0.0.1:7070";
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
    } else if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
      usageError("unknown flag " + a);
    } else {
      o.args.push_back(a);
    }
  }
  if (o.args.empty()) {
    usageError("no command given");
  }
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
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
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

std::vector<std::string> splitCommas(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) {
      comma = text.size();
    }
    if (comma > start) {
      out.push_back(text.substr(start, comma - start));
    }
    start = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parseArgs(argc, argv);
  auto channel = grpc::CreateChannel(o.control, grpc::InsecureChannelCredentials());
  auto stub = herald::v1::Control::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(o.timeout_s));
  const std::string& cmd = o.args[0];
  const size_t nargs = o.args.size() - 1;

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
    for (const auto& c : splitCommas(o.channels)) {
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
    herald::cli::Table t({"NODE", "ADDRESS", "HEALTH", "CONNS", "SUBS", "CHANNELS", "MSG IN",
                          "MSG OUT", "CONFIG", "LAST NACK"});
    for (const auto& n : resp.nodes()) {
      t.add({n.node_id(), n.address(), healthName(n.health()), std::to_string(n.connections()),
             std::to_string(n.subscriptions()), std::to_string(n.channels()),
             std::to_string(n.messages_in()), std::to_string(n.messages_out()),
             std::to_string(n.config_version_acked()),
             n.last_nack_error().empty() ? "-" : n.last_nack_error()});
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
    herald::cli::Table t({"CHANNEL", "OFFSET", "EPOCH", "NODES"});
    for (const auto& c : resp.channels()) {
      t.add({c.channel(), std::to_string(c.offset()), c.epoch().empty() ? "-" : c.epoch(),
             std::to_string(c.nodes())});
    }
    t.print(stdout);
    if (!resp.next_page_token().empty()) {
      std::printf("(more channels: narrow with a PREFIX)\n");
    }
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
  usageError("unknown command '" + cmd + "'");
}
