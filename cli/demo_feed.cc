#include "cli/demo_feed.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

namespace herald::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void onInterrupt(int) { g_interrupted.store(true); }

constexpr const char* kNamespace = "demo";
constexpr uint32_t kHistorySize = 1000;
constexpr uint32_t kHistoryTtlSeconds = 3600;

struct Symbol {
  const char* name;
  double price;
};

}  // namespace

int runDemoFeed(herald::v1::Control::Stub& stub, const ContextFactory& new_context,
                const DemoFeedOptions& options,
                const std::function<int(const std::string&, const grpc::Status&)>& report) {
  {
    herald::v1::GetNamespaceRequest get;
    get.set_name(kNamespace);
    herald::v1::GetNamespaceResponse current;
    auto ctx = new_context();
    grpc::Status s = stub.GetNamespace(ctx.get(), get, &current);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
      // History lets the demo page recover what it missed while its node was away.
      herald::v1::CreateNamespaceRequest create;
      auto* ns = create.mutable_namespace_();
      ns->set_name(kNamespace);
      ns->set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_PUBLIC);
      ns->set_history_size(kHistorySize);
      ns->set_history_ttl_seconds(kHistoryTtlSeconds);
      herald::v1::CreateNamespaceResponse created;
      auto create_ctx = new_context();
      s = stub.CreateNamespace(create_ctx.get(), create, &created);
      if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
        return report("demo-feed: create namespace 'demo'", s);
      }
      if (!options.quiet) {
        std::printf("created namespace 'demo' (public, history %u publications / %u s)\n",
                    kHistorySize, kHistoryTtlSeconds);
      }
    } else if (!s.ok()) {
      return report("demo-feed: get namespace 'demo'", s);
    }
  }

  std::signal(SIGINT, onInterrupt);
  std::signal(SIGTERM, onInterrupt);
  if (!options.quiet) {
    std::printf("publishing to demo:prices and demo:transfers at %.1f/s%s; open /demo on a node\n",
                options.rate, options.duration_s > 0 || options.count > 0 ? "" : " (Ctrl-C stops)");
    std::fflush(stdout);
  }
  std::mt19937 rng{std::random_device{}()};
  std::normal_distribution<double> step(0.0, 0.002);
  std::uniform_int_distribution<int> pick(0, 2);
  std::uniform_real_distribution<double> amount(0.01, 25.0);
  Symbol symbols[] = {{"BTC", 64250.0}, {"ETH", 3120.0}, {"SOL", 142.0}};
  const char* accounts[] = {"alice", "bob", "carol", "dave", "erin"};

  const auto start = std::chrono::steady_clock::now();
  const auto interval = std::chrono::duration<double>(1.0 / std::max(options.rate, 0.01));
  auto next = start;
  auto last_report = start;
  int64_t published = 0;
  uint64_t last_offset = 0;
  while (!g_interrupted.load()) {
    if (options.count > 0 && published >= options.count) {
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    if (options.duration_s > 0 && now - start >= std::chrono::seconds(options.duration_s)) {
      break;
    }
    herald::v1::PublishRequest req;
    if (published % 2 == 0) {
      Symbol& sym = symbols[pick(rng)];
      sym.price *= 1.0 + step(rng);
      req.set_channel("demo:prices");
      req.set_event("price");
      req.set_data(
          nlohmann::json{{"symbol", sym.name}, {"price", std::round(sym.price * 100.0) / 100.0}}
              .dump());
      (*req.mutable_tags())["symbol"] = sym.name;
    } else {
      const int from = pick(rng);
      const double value = std::round(amount(rng) * 100.0) / 100.0;
      const std::string token = symbols[pick(rng)].name;
      req.set_channel("demo:transfers");
      req.set_event("transfer");
      req.set_data(nlohmann::json{
          {"from", accounts[from]},
          {"to", accounts[from + 1 + pick(rng) % 2]},
          {"amount", value},
          {"token",
           token}}.dump());
      // For filters: e.g. {"key":"token","eq":"ETH"} (docs/protocol.md "Tags and filters").
      (*req.mutable_tags())["token"] = token;
      (*req.mutable_tags())["amount"] = nlohmann::json(value).dump();
    }
    herald::v1::PublishResponse resp;
    auto ctx = new_context();
    grpc::Status s = stub.Publish(ctx.get(), req, &resp);
    if (!s.ok()) {
      return report("demo-feed: publish", s);
    }
    ++published;
    last_offset = resp.offset();
    if (!options.quiet && now - last_report >= std::chrono::seconds(5)) {
      std::printf("published %lld (last: %s offset %llu)\n", static_cast<long long>(published),
                  req.channel().c_str(), static_cast<unsigned long long>(last_offset));
      std::fflush(stdout);
      last_report = now;
    }
    next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval);
    // Sleep in short steps so Ctrl-C stops at once even at a low rate.
    while (!g_interrupted.load() && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          next - std::chrono::steady_clock::now(), std::chrono::milliseconds(100)));
    }
  }
  if (!options.quiet) {
    std::printf("demo-feed: published %lld message(s)\n", static_cast<long long>(published));
  }
  return 0;
}

}  // namespace herald::cli
