// heraldctl history and channels: what the streams hold.
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/ctl/commands.h"
#include "cli/ctl/output.h"
#include "cli/table.h"

namespace herald::ctl {

int historyCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  const size_t nargs = o.args.size() - 1;
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
  grpc::Status s = stub.History(&ctx, req, &resp);
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
  std::printf("current offset %llu, epoch %s; %s\n", static_cast<unsigned long long>(resp.offset()),
              resp.epoch().empty() ? "-" : resp.epoch().c_str(),
              resp.recovered() ? "complete after the given offset"
                               : "NOT complete: the history does not reach back that far, "
                                 "the epoch differs, or the namespace keeps no history");
  return 0;
}

int channelsCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  const size_t nargs = o.args.size() - 1;
  herald::v1::ListChannelsRequest req;
  if (nargs >= 1) {
    req.set_prefix(o.args[1]);
  }
  req.set_page_size(1000);
  herald::v1::ListChannelsResponse resp;
  grpc::Status s = stub.ListChannels(&ctx, req, &resp);
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

}  // namespace herald::ctl
