// heraldctl publish, broadcast, send-to-user and demo-feed.
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/ctl/commands.h"
#include "cli/ctl/output.h"
#include "cli/demo_feed.h"
#include "common/strings.h"

namespace herald::ctl {

int publishCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  const size_t nargs = o.args.size() - 1;
  if (nargs != 2) {
    usageError("publish needs CHANNEL and JSON, e.g. publish token:price '{\"price\":1}'");
  }
  herald::v1::PublishRequest req;
  req.set_channel(o.args[1]);
  req.set_data(o.args[2]);
  req.set_event(o.event);
  req.set_idempotency_key(o.idempotency_key);
  req.mutable_tags()->insert(o.tags.begin(), o.tags.end());
  herald::v1::PublishResponse resp;
  grpc::Status s = stub.Publish(&ctx, req, &resp);
  if (!s.ok()) {
    return fail("publish", s, o);
  }
  if (o.json) {
    std::cout << toJson(resp);
  } else {
    std::printf("published to %s: offset %llu, epoch %s, %u node(s)%s\n", o.args[1].c_str(),
                static_cast<unsigned long long>(resp.offset()), resp.epoch().c_str(), resp.nodes(),
                resp.duplicate() ? " (duplicate: not delivered again)" : "");
  }
  return 0;
}

int broadcastCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  const size_t nargs = o.args.size() - 1;
  if (nargs != 1) {
    usageError("broadcast needs JSON, e.g. broadcast '{\"notice\":\"maintenance\"}'");
  }
  herald::v1::BroadcastRequest req;
  req.set_data(o.args[1]);
  req.set_event(o.event);
  for (const auto& c : herald::splitNonEmpty(o.channels, ',')) {
    req.add_channels(c);
  }
  req.mutable_tags()->insert(o.tags.begin(), o.tags.end());
  herald::v1::BroadcastResponse resp;
  grpc::Status s = stub.Broadcast(&ctx, req, &resp);
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

int sendToUserCommand(Stub& stub, grpc::ClientContext& ctx, const Options& o) {
  const size_t nargs = o.args.size() - 1;
  if (nargs != 2) {
    usageError("send-to-user needs USER and JSON, e.g. send-to-user alice '{\"n\":1}'");
  }
  herald::v1::SendToUserRequest req;
  req.set_user(o.args[1]);
  req.set_data(o.args[2]);
  req.set_event(o.event);
  herald::v1::SendToUserResponse resp;
  grpc::Status s = stub.SendToUser(&ctx, req, &resp);
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

int demoFeedCommand(Stub& stub, grpc::ClientContext& /*ctx*/, const Options& o) {
  const size_t nargs = o.args.size() - 1;
  if (nargs != 0) {
    usageError("demo-feed takes no arguments (options: --rate, --duration, --count)");
  }
  herald::cli::DemoFeedOptions feed;
  feed.rate = o.rate;
  feed.duration_s = o.duration_s;
  feed.count = o.count;
  return herald::cli::runDemoFeed(
      stub, [&o] { return newContext(o); }, feed,
      [&o](const std::string& what, const grpc::Status& s) { return fail(what, s, o); });
}

}  // namespace herald::ctl
