// herald-bench: a load generator for Herald or any WebSocket server. Opens N connections,
// publishes timestamped payloads, and reports throughput, latency, loss and server memory.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/bench/load_client.h"
#include "cli/bench/process_stats.h"
#include "cli/bench/publisher.h"
#include "cli/table.h"
#include "common/file_limit.h"

namespace {

using herald::bench::cpuSeconds;
using herald::bench::LoadClient;
using herald::bench::LoadOptions;
using herald::bench::Publisher;
using herald::bench::PublishOptions;
using herald::bench::rssKib;
using herald::bench::serversCpuSeconds;

constexpr const char* kUsage = R"(usage: herald-bench [options]

Connects N WebSocket clients, publishes timestamped payloads, and reports connections,
deliveries per second, publish-to-receive latency, lost / out-of-order messages (by offset),
the bench's own CPU and the server's memory. Works against Herald or any WebSocket server.

target:
  --url URL                 ws://HOST:PORT/PATH?QUERY to connect to; {i} = connection index
                            (default ws://127.0.0.1:8080/ws?subscribe=bench:hot)
  --first-frame TEXT        a text frame to send after the upgrade, e.g. a subscribe ({i} too;
                            {i%2} is the index's parity)
  --connections N           clients to open (default 100)
  --connect-rate N          new connections per second (default 0: as fast as possible)
  --source-addresses K      spread clients over 127.0.0.1..127.0.0.K (default 1; use K > 1
                            beyond ~28,000 connections on loopback)
  --threads T               client threads (default 1)
  --churn CHANNEL           each client subscribes to / unsubscribes from CHANNEL ({i} too)
                            in turn, as fast as answered; reports operations per second
                            (combine with --no-publish)
  --churn-depth N           churn frames in flight per client (default 1: one at a time)
  --deflate                 offer permessage-deflate (the node needs --compression); each
                            client inflates what comes compressed
  --jwt-secret SECRET       sign an HS256 token per client (sub "bench-<i>", 1 h) and send it
                            as token=... in the URL; --jwt-kid KID names the key
publishing:
  --control HOST:PORT       Herald Control API (default $HERALD_CONTROL or 127.0.0.1:7070)
  --api-key KEY             Control API key (default $HERALD_API_KEY)
  --http-publish URL        POST each payload to this http:// URL instead (other servers)
  --channel NAME[*W]        publish to this channel (repeatable; default bench:hot); *W
                            gives it W turns in the round-robin (e.g. bench:hot*100)
  --channel-pattern PAT     also publish to PAT with {i} = 0..COUNT-1 (round-robin)
  --pattern-count COUNT
  --rate N                  publications per second (default 0: as fast as accepted)
  --batch N                 publications per PublishBatch when --rate is 0 (default 100)
  --stream                  publish on one PublishStream call (client streaming) instead;
                            the end-of-run loss count then needs offsets it does not get
  --payload BYTES           JSON payload size, timestamp included (default 200)
  --payload-book            fill payloads with an order book (prices, sizes) instead of
                            "xxx...": compresses like real market data
  --tag KEY=VALUE           a tag on every publication (repeatable), for subscribers' filters
  --window N                closed loop for one-channel fan-out: publish only while fewer
                            than N publications are still on their way to the average client
                            ("as fast as delivered"; default 0: open loop)
  --window-share PCT        the share of clients each publication reaches, for --window
                            (default 100; e.g. 50 when half the clients' filters match)
  --no-publish              only open and hold the connections
run:
  --duration SECONDS        how long to publish (or hold) once connected (default 10)
  --server-pid PID          report this process's RSS and CPU (repeatable, e.g. one per node)
  --json                    print the summary as one JSON object on stdout
  --quiet                   no progress lines on stderr
)";

[[noreturn]] void usageError(const std::string& message) {
  std::fprintf(stderr, "herald-bench: %s\n\n%s", message.c_str(), kUsage);
  std::exit(2);
}

struct Options {
  LoadOptions load;
  PublishOptions publish;
  std::string pattern;
  uint32_t pattern_count = 0;
  bool publish_enabled = true;
  uint64_t window = 0;
  uint64_t window_share = 100;
  double duration_s = 10;
  std::vector<int> server_pids;
  bool json = false;
  bool quiet = false;
};

uint64_t number(const std::string& flag, const std::string& text) {
  if (text.empty() || text.size() > 12 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    usageError(flag + " needs a non-negative whole number");
  }
  return std::stoull(text);
}

void parseUrl(const std::string& url, LoadOptions* load) {
  if (url.rfind("ws://", 0) != 0) {
    usageError("--url must start with ws:// (wss:// is not supported by the bench)");
  }
  const std::string rest = url.substr(5);
  const size_t slash = rest.find('/');
  const std::string host_port = rest.substr(0, slash);
  load->path = slash == std::string::npos ? "/" : rest.substr(slash);
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    usageError("--url needs HOST:PORT");
  }
  load->host = host_port.substr(0, colon);
  load->port = static_cast<uint16_t>(number("--url port", host_port.substr(colon + 1)));
}

Options parseArgs(int argc, char** argv) {
  Options o;
  parseUrl("ws://127.0.0.1:8080/ws?subscribe=bench:hot", &o.load);
  if (const char* c = std::getenv("HERALD_CONTROL"); c != nullptr && *c != '\0') {
    o.publish.control = c;
  }
  if (const char* k = std::getenv("HERALD_API_KEY"); k != nullptr) {
    o.publish.api_key = k;
  }
  o.publish.batch = 100;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usageError(a + " needs a value");
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--url") {
      parseUrl(value(), &o.load);
    } else if (a == "--first-frame") {
      o.load.first_frame = value();
    } else if (a == "--connections") {
      o.load.connections = static_cast<uint32_t>(number(a, value()));
    } else if (a == "--connect-rate") {
      o.load.connect_rate = static_cast<uint32_t>(number(a, value()));
    } else if (a == "--source-addresses") {
      o.load.source_addresses =
          std::clamp<uint32_t>(static_cast<uint32_t>(number(a, value())), 1, 254);
    } else if (a == "--threads") {
      o.load.threads = std::max<uint32_t>(1, static_cast<uint32_t>(number(a, value())));
    } else if (a == "--churn") {
      o.load.churn_channel = value();
    } else if (a == "--churn-depth") {
      o.load.churn_depth = std::max<uint32_t>(1, static_cast<uint32_t>(number(a, value())));
    } else if (a == "--jwt-secret") {
      o.load.jwt_secret = value();
    } else if (a == "--jwt-kid") {
      o.load.jwt_kid = value();
    } else if (a == "--deflate") {
      o.load.deflate = true;
    } else if (a == "--control") {
      o.publish.control = value();
    } else if (a == "--api-key") {
      o.publish.api_key = value();
    } else if (a == "--http-publish") {
      o.publish.http_url = value();
      if (o.publish.http_url.rfind("http://", 0) != 0) {
        usageError("--http-publish must be an http:// URL");
      }
    } else if (a == "--channel") {
      // NAME*W: W turns in the round-robin ('*' is not valid in channel names).
      const std::string spec = value();
      const size_t star = spec.rfind('*');
      const uint64_t weight = star == std::string::npos ? 1 : number(a, spec.substr(star + 1));
      for (uint64_t w = 0; w < std::max<uint64_t>(weight, 1); ++w) {
        o.publish.channels.push_back(spec.substr(0, star));
      }
    } else if (a == "--channel-pattern") {
      o.pattern = value();
    } else if (a == "--pattern-count") {
      o.pattern_count = static_cast<uint32_t>(number(a, value()));
    } else if (a == "--rate") {
      o.publish.rate = static_cast<double>(number(a, value()));
    } else if (a == "--batch") {
      o.publish.batch = std::max<uint32_t>(1, static_cast<uint32_t>(number(a, value())));
    } else if (a == "--payload") {
      o.publish.payload_bytes = static_cast<size_t>(number(a, value()));
    } else if (a == "--payload-book") {
      o.publish.book = true;
    } else if (a == "--window") {
      o.window = number(a, value());
    } else if (a == "--window-share") {
      o.window_share = number(a, value());
      if (o.window_share == 0 || o.window_share > 100) {
        usageError("--window-share needs a percentage from 1 to 100");
      }
    } else if (a == "--tag") {
      const std::string tag = value();
      const size_t eq = tag.find('=');
      if (eq == std::string::npos || eq == 0) {
        usageError("--tag needs KEY=VALUE");
      }
      o.publish.tags[tag.substr(0, eq)] = tag.substr(eq + 1);
    } else if (a == "--stream") {
      o.publish.stream = true;
    } else if (a == "--no-publish") {
      o.publish_enabled = false;
    } else if (a == "--duration") {
      o.duration_s = static_cast<double>(number(a, value()));
    } else if (a == "--server-pid") {
      o.server_pids.push_back(static_cast<int>(number(a, value())));
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--quiet") {
      o.quiet = true;
    } else {
      usageError("unknown option " + a);
    }
  }
  if (!o.pattern.empty()) {
    if (o.pattern_count == 0) {
      usageError("--channel-pattern needs --pattern-count");
    }
    for (uint32_t i = 0; i < o.pattern_count; ++i) {
      std::string name = o.pattern;
      const size_t at = name.find("{i}");
      if (at != std::string::npos) {
        name.replace(at, 3, std::to_string(i));
      }
      o.publish.channels.push_back(name);
    }
  }
  if (o.publish.channels.empty()) {
    o.publish.channels.push_back("bench:hot");
  }
  // Interleave weighted and patterned channels (same order every run).
  std::shuffle(o.publish.channels.begin(), o.publish.channels.end(), std::mt19937(42));
  return o;
}

std::string formatRate(double v) {
  char buf[32];
  if (v >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%.2fM", v / 1e6);
  } else if (v >= 1e3) {
    std::snprintf(buf, sizeof(buf), "%.1fk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  }
  return buf;
}

std::string ms(uint64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f ms", static_cast<double>(us) / 1000.0);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parseArgs(argc, argv);
  auto log = [&](const std::string& line) {
    if (!o.quiet) {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
  };
  const uint64_t files = herald::raiseOpenFileLimit();
  if (o.load.connections + 32 > files) {  // its own files: stdio, epoll, gRPC channel
    std::fprintf(stderr,
                 "herald-bench: this process may open %llu files, too few for %u connections: "
                 "the extra ones will fail. Run several herald-bench processes (each with "
                 "fewer --connections) for larger runs.\n",
                 static_cast<unsigned long long>(files), o.load.connections);
  }
  std::vector<uint64_t> rss_before;
  for (int pid : o.server_pids) {
    rss_before.push_back(rssKib(pid));
  }

  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = cpuSeconds();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  LoadClient load(o.load);
  load.start();
  // Connect phase: until every attempt has an outcome, or no progress for 10 s.
  uint64_t last_done = 0;
  auto last_change = std::chrono::steady_clock::now();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto p = load.progress();
    const uint64_t done = p.established + p.failed;
    if (done != last_done) {
      last_done = done;
      last_change = std::chrono::steady_clock::now();
    }
    if (done >= o.load.connections ||
        std::chrono::steady_clock::now() - last_change > std::chrono::seconds(10)) {
      break;
    }
    static int ticks = 0;
    if (++ticks % 5 == 0) {
      log("connecting: " + std::to_string(p.established) + "/" +
          std::to_string(o.load.connections) + " established, " + std::to_string(p.failed) +
          " failed");
    }
  }
  const double connect_wall = elapsed();
  // Nearly all of it is spent opening connections: after the last one the bench idles here.
  const double connect_cpu = cpuSeconds() - cpu0;
  auto connected = load.progress();
  log("connected: " + std::to_string(connected.established) + " established, " +
      std::to_string(connected.failed) + " failed in " + std::to_string(connect_wall) + " s");
  // Let the server register the subscriptions before the first publication.
  std::this_thread::sleep_for(std::chrono::seconds(1));

  const uint64_t messages_before = load.progress().messages;
  const uint64_t churn_before = load.progress().churn_ops;
  if (o.window > 0) {
    const uint64_t clients = std::max<uint64_t>(load.progress().established, 1);
    o.publish.may_publish = [&load, &o, clients, messages_before](uint64_t published) {
      // Deliveries per publication: the clients it reaches (all, or --window-share of them).
      const uint64_t delivered = load.progress().messages - messages_before;
      return published < delivered * 100 / (clients * o.window_share) + o.window;
    };
  }
  Publisher publisher(o.publish);
  const double server_cpu0 = serversCpuSeconds(o.server_pids);
  const auto run_start = std::chrono::steady_clock::now();
  if (o.publish_enabled) {
    publisher.start();
  }
  uint64_t prev_messages = messages_before;
  uint64_t prev_published = 0;
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count() <
         o.duration_s) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const auto p = load.progress();
    const uint64_t published = publisher.published();
    char line[256];
    std::snprintf(
        line, sizeof(line),
        "t=%4.0fs  open %llu  closed %llu  deliveries %s/s  published %s/s  "
        "publish errors %llu",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count(),
        static_cast<unsigned long long>(p.established - p.closed),
        static_cast<unsigned long long>(p.closed),
        formatRate(static_cast<double>(p.messages - prev_messages)).c_str(),
        formatRate(static_cast<double>(published - prev_published)).c_str(),
        static_cast<unsigned long long>(publisher.failures()));
    log(line);
    prev_messages = p.messages;
    prev_published = published;
  }
  const uint64_t churn_ops = load.progress().churn_ops - churn_before;
  publisher.stop();
  const double publish_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  // Drain: until deliveries stop for a second (at most 10 s).
  uint64_t drained = load.progress().messages;
  auto last_growth = std::chrono::steady_clock::now();
  for (int i = 0; i < 100 && o.publish_enabled; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const uint64_t now = load.progress().messages;
    if (now != drained) {
      drained = now;
      last_growth = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_growth > std::chrono::seconds(1)) {
      break;
    }
  }
  // Deliveries per second over the time they took: publishing plus the tail still in flight.
  const double delivery_seconds = std::chrono::duration<double>(last_growth - run_start).count();
  const double server_cpu = serversCpuSeconds(o.server_pids) - server_cpu0;
  std::vector<uint64_t> rss_after;
  for (int pid : o.server_pids) {
    rss_after.push_back(rssKib(pid));
  }
  load.stop();
  const double cpu = cpuSeconds() - cpu0;
  const double wall = elapsed();

  auto r = load.results();
  uint64_t tail_missing = 0;
  for (const auto& [channel, last] : publisher.lastOffsets()) {
    tail_missing += load.missingAtTail(channel, last);
  }
  std::sort(r.per_connection.begin(), r.per_connection.end());
  const uint64_t min_per_client = r.per_connection.empty() ? 0 : r.per_connection.front();
  const uint64_t median_per_client =
      r.per_connection.empty() ? 0 : r.per_connection[r.per_connection.size() / 2];
  const uint64_t delivered = r.messages - messages_before;
  const double deliveries_per_s =
      publish_seconds > 0 ? static_cast<double>(delivered) / delivery_seconds : 0;
  uint64_t rss_total = 0;
  uint64_t rss_growth = 0;
  for (size_t i = 0; i < rss_after.size(); ++i) {
    rss_total += rss_after[i];
    rss_growth += rss_after[i] > rss_before[i] ? rss_after[i] - rss_before[i] : 0;
  }
  const uint64_t open = r.established - r.closed;

  nlohmann::json summary = {
      {"connections",
       {{"requested", o.load.connections},
        {"established", r.established},
        {"failed", r.failed},
        {"closed_during_run", r.closed},
        {"connect_seconds", r.connect_seconds},
        {"connect_rate_per_s",
         r.connect_seconds > 0 ? static_cast<double>(r.established) / r.connect_seconds : 0.0}}},
      {"publishing",
       {{"published", publisher.published()},
        {"errors", publisher.failures()},
        {"seconds", publish_seconds},
        {"rate_per_s", publish_seconds > 0
                           ? static_cast<double>(publisher.published()) / publish_seconds
                           : 0.0}}},
      {"deliveries",
       {{"total", delivered},
        {"per_s", deliveries_per_s},
        {"bytes_received", r.bytes},
        {"bytes_per_delivery",
         delivered > 0 ? static_cast<double>(r.bytes) / static_cast<double>(delivered) : 0.0},
        {"compressed_frames", r.compressed_frames},
        {"per_client_min", min_per_client},
        {"per_client_median", median_per_client},
        {"gaps", r.gaps},
        {"out_of_order_or_duplicate", r.out_of_order},
        {"missing_at_end", tail_missing}}},
      {"churn",
       {{"operations", churn_ops},
        {"per_s", publish_seconds > 0 ? static_cast<double>(churn_ops) / publish_seconds : 0.0}}},
      {"latency_us",
       {{"p50", r.latency.quantile(0.5)},
        {"p90", r.latency.quantile(0.9)},
        {"p99", r.latency.quantile(0.99)},
        {"p999", r.latency.quantile(0.999)},
        {"max", r.latency.max()}}},
      {"bench",
       {{"cpu_seconds", cpu},
        {"wall_seconds", wall},
        {"cpu_percent", 100.0 * cpu / wall},
        {"connect_cpu_seconds", connect_cpu},
        {"connect_cpu_us_per_connection",
         r.established > 0 ? 1e6 * connect_cpu / static_cast<double>(r.established) : 0.0}}},
      {"server",
       {{"rss_kib", rss_total},
        {"rss_growth_kib", rss_growth},
        {"rss_kib_per_connection",
         open > 0 && !rss_after.empty() ? static_cast<double>(rss_total) / open : 0.0},
        {"rss_growth_kib_per_connection",
         open > 0 && !rss_after.empty() ? static_cast<double>(rss_growth) / open : 0.0},
        // From the first publication to the end of the drain.
        {"cpu_seconds", server_cpu},
        {"cpu_us_per_delivery",
         delivered > 0 ? 1e6 * server_cpu / static_cast<double>(delivered) : 0.0}}},
      {"first_error", r.first_error.empty() ? publisher.firstError() : r.first_error},
  };
  if (o.json) {
    std::cout << summary.dump(2) << "\n";
    return 0;
  }
  herald::cli::Table t({"METRIC", "VALUE"});
  t.add({"connections established",
         std::to_string(r.established) + " of " + std::to_string(o.load.connections)});
  t.add(
      {"connections failed / closed", std::to_string(r.failed) + " / " + std::to_string(r.closed)});
  t.add({"connect rate", formatRate(summary["connections"]["connect_rate_per_s"]) + "/s"});
  t.add({"published", std::to_string(publisher.published()) + " (" +
                          formatRate(summary["publishing"]["rate_per_s"]) + "/s, " +
                          std::to_string(publisher.failures()) + " errors)"});
  t.add({"deliveries", std::to_string(delivered) + " (" + formatRate(deliveries_per_s) + "/s)"});
  char bytes_line[96];
  std::snprintf(bytes_line, sizeof(bytes_line),
                "%.1f MiB (%.0f per delivery; %llu compressed frames)",
                static_cast<double>(r.bytes) / 1048576.0,
                summary["deliveries"]["bytes_per_delivery"].get<double>(),
                static_cast<unsigned long long>(r.compressed_frames));
  t.add({"bytes received", bytes_line});
  if (!o.load.churn_channel.empty()) {
    t.add({"subscribe/unsubscribe answered",
           std::to_string(churn_ops) + " (" + formatRate(summary["churn"]["per_s"]) + "/s)"});
  }
  t.add({"per client min / median",
         std::to_string(min_per_client) + " / " + std::to_string(median_per_client)});
  t.add({"gaps / out of order / missing at end", std::to_string(r.gaps) + " / " +
                                                     std::to_string(r.out_of_order) + " / " +
                                                     std::to_string(tail_missing)});
  t.add({"latency p50 / p90 / p99", ms(r.latency.quantile(0.5)) + " / " +
                                        ms(r.latency.quantile(0.9)) + " / " +
                                        ms(r.latency.quantile(0.99))});
  t.add({"latency p99.9 / max", ms(r.latency.quantile(0.999)) + " / " + ms(r.latency.max())});
  char cpu_line[64];
  std::snprintf(cpu_line, sizeof(cpu_line), "%.1f%% of one core", 100.0 * cpu / wall);
  t.add({"bench CPU", cpu_line});
  if (r.established > 0) {
    std::snprintf(cpu_line, sizeof(cpu_line), "%.1f µs per connection",
                  summary["bench"]["connect_cpu_us_per_connection"].get<double>());
    t.add({"bench CPU while connecting", cpu_line});
  }
  if (!rss_after.empty()) {
    char rss_line[96];
    std::snprintf(rss_line, sizeof(rss_line), "%.1f MiB (%.2f KiB per open connection)",
                  static_cast<double>(rss_total) / 1024.0,
                  open > 0 ? static_cast<double>(rss_total) / open : 0.0);
    t.add({"server RSS", rss_line});
    std::snprintf(rss_line, sizeof(rss_line), "%.2f s (%.3f µs per delivery)", server_cpu,
                  summary["server"]["cpu_us_per_delivery"].get<double>());
    t.add({"server CPU while publishing", rss_line});
  }
  if (!summary["first_error"].get<std::string>().empty()) {
    t.add({"first error", summary["first_error"]});
  }
  t.print(stdout);
  return 0;
}
