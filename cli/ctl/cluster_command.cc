// heraldctl nodes, stats, presence and info: the state of the cluster.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli/ctl/commands.h"
#include "cli/ctl/output.h"
#include "cli/ctl/stats_view.h"
#include "cli/table.h"

namespace herald::ctl {

int nodesCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  herald::v1::ListNodesResponse resp;
  grpc::Status s = stub.ListNodes(&ctx, herald::v1::ListNodesRequest(), &resp);
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

int statsCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  herald::v1::ClusterStatsResponse resp;
  grpc::Status s = stub.ClusterStats(&ctx, herald::v1::ClusterStatsRequest(), &resp);
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
  printStatsWindows(resp);
  printTopSubscribed(resp);
  return 0;
}

int presenceCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  const size_t nargs = o.args.size() - 1;
  if (nargs != 1) {
    usageError("presence needs CHANNEL");
  }
  herald::v1::PresenceRequest req;
  req.set_channel(o.args[1]);
  herald::v1::PresenceResponse resp;
  grpc::Status s = stub.Presence(&ctx, req, &resp);
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

int infoCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  herald::v1::InfoResponse resp;
  grpc::Status s = stub.Info(&ctx, herald::v1::InfoRequest(), &resp);
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

}  // namespace herald::ctl
