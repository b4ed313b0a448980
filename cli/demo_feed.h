#pragma once

// `heraldctl demo-feed`: a small live feed (prices and transfers) for the demo page, so a
// newcomer sees messages arrive within a minute of starting Herald.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "herald/v1/control.grpc.pb.h"

namespace herald::cli {

struct DemoFeedOptions {
  double rate = 4;         // publications per second, both channels together
  int64_t duration_s = 0;  // 0: until interrupted (or `count`)
  int64_t count = 0;       // 0: no limit
  bool quiet = false;      // no progress lines
};

// Makes a context (deadline, API key) for one call.
using ContextFactory = std::function<std::unique_ptr<grpc::ClientContext>()>;

// Creates the `demo` namespace (public, with history) when it does not exist, then publishes
// to demo:prices and demo:transfers. On a failed call prints it through `report` and returns 1.
int runDemoFeed(herald::v1::Control::Stub& stub, const ContextFactory& new_context,
                const DemoFeedOptions& options,
                const std::function<int(const std::string&, const grpc::Status&)>& report);

}  // namespace herald::cli
