// Google Benchmark micro-benchmarks for the hot paths: what one publication costs on the way
// through herald-control and herald-node, and what herald-bench spends per received frame.
// Run: build/tests/hot_paths_benchmark (figures in docs/benchmarks.md).
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "cli/bench/latency_histogram.h"
#include "cli/bench/ws_frames.h"
#include "common/deflate_codec.h"
#include "common/tag_filter.h"
#include "controlplane/memory_stream_engine.h"
#include "controlplane/router.h"
#include "dataplane/fanout/delivery.h"
#include "dataplane/fanout/prepared_frame.h"
#include "dataplane/fanout/subscription_index.h"
#include "dataplane/link/join_leave_batch.h"
#include "dataplane/session/client_protocol.h"
#include "dataplane/session/frame_builder.h"
#include "dataplane/transport/deflate_settings.h"

namespace {

herald::v1::Deliver samplePublication(size_t data_bytes) {
  herald::v1::Deliver d;
  d.set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
  auto* p = d.mutable_publication();
  p->set_channel("token:price");
  p->set_event("price_update");
  p->set_offset(123456);
  p->set_epoch("ae1a4e3ebaaab331");
  p->set_ts_unix_ms(1795476231899);
  p->set_data("{\"p\":\"" + std::string(data_bytes > 8 ? data_bytes - 8 : 0, 'x') + "\"}");
  return d;
}

// herald-node, once per publication: the client `message` JSON.
void BM_BuildMessageFrame(benchmark::State& state) {
  const auto d = samplePublication(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(herald::node::buildMessageFrame(d));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_BuildMessageFrame)->Arg(200)->Arg(4096);

// herald-node, once per publication: WebSocket framing of that JSON (shared by all shards).
void BM_PrepareTextFrame(benchmark::State& state) {
  const std::string json = herald::node::buildMessageFrame(samplePublication(200));
  for (auto _ : state) {
    benchmark::DoNotOptimize(herald::node::prepareTextFrame(json));
  }
}
BENCHMARK(BM_PrepareTextFrame);

// A `message` frame carrying an order book of about `bytes` (what scripts/bench compression
// publishes): prices and sizes with varying digits.
std::string bookFrame(size_t bytes) {
  herald::v1::Deliver d = samplePublication(0);
  std::string book = "{\"t\":1795476231899123,\"p\":[";
  unsigned seed = 12345;
  char level[64];
  while (book.size() + 40 < bytes) {
    seed = seed * 1103515245u + 12345u;
    std::snprintf(level, sizeof(level), "%s{\"px\":%u.%02u,\"sz\":%u.%03u}",
                  book.back() == '[' ? "" : ",", 63900 + (seed >> 8) % 200, (seed >> 4) % 100,
                  (seed >> 12) % 20, (seed >> 16) % 1000);
    book += level;
  }
  book += "]}";
  d.mutable_publication()->set_data(book);
  return herald::node::buildMessageFrame(d);
}

// herald-node with --compression, once per publication while a client agreed it: the raw
// DEFLATE of the frame (level 1, the default). Reports the compressed size as a counter.
void BM_DeflateMessage(benchmark::State& state) {
  const std::string frame = bookFrame(static_cast<size_t>(state.range(0)));
  std::string out;
  for (auto _ : state) {
    out.clear();
    herald::deflateMessage(frame, 1, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["in_bytes"] = static_cast<double>(frame.size());
  state.counters["out_bytes"] = static_cast<double>(out.size());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(BM_DeflateMessage)->Arg(512)->Arg(4096);

// prepareTextFrame and its compressed copy (a node with --compression, a compressing client).
void BM_PrepareTextFrameDeflated(benchmark::State& state) {
  const std::string frame = bookFrame(512);
  herald::node::setDeflateSettings(herald::node::DeflateSettings{true, 256, 1});
  for (auto _ : state) {
    auto prepared = herald::node::prepareTextFrame(frame);
    benchmark::DoNotOptimize(prepared->deflated());
  }
  herald::node::setDeflateSettings(herald::node::DeflateSettings{});
}
BENCHMARK(BM_PrepareTextFrameDeflated);

// A client (herald-bench, a test) inflating one such frame.
void BM_InflateMessage(benchmark::State& state) {
  const std::string frame = bookFrame(512);
  std::string compressed;
  herald::deflateMessage(frame, 1, &compressed);
  std::string out;
  for (auto _ : state) {
    out.clear();
    herald::inflateMessage(compressed, 1 << 20, &out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_InflateMessage);

struct FakeConnection {
  int id = 0;
};

// herald-node, once per publication per shard: finding a channel's subscribers.
void BM_SubscriptionIndexFind(benchmark::State& state) {
  herald::node::SubscriptionIndex<FakeConnection> index;
  std::vector<FakeConnection> connections(static_cast<size_t>(state.range(0)));
  for (size_t i = 0; i < connections.size(); ++i) {
    index.add("own:" + std::to_string(i), &connections[i]);
    index.add("token:price", &connections[i]);
  }
  const std::string channel = "token:price";
  for (auto _ : state) {
    benchmark::DoNotOptimize(index.find(channel));
  }
}
BENCHMARK(BM_SubscriptionIndexFind)->Arg(10000);

// herald-node, per subscribe/unsubscribe (churn).
void BM_SubscriptionIndexAddRemove(benchmark::State& state) {
  herald::node::SubscriptionIndex<FakeConnection> index;
  std::vector<FakeConnection> connections(1000);
  for (size_t i = 0; i < connections.size(); ++i) {
    index.add("token:price", &connections[i]);
  }
  FakeConnection extra;
  const std::string channel = "token:price";
  for (auto _ : state) {
    index.add(channel, &extra);
    index.remove(channel, &extra);
  }
}
BENCHMARK(BM_SubscriptionIndexAddRemove);

// herald-node, per subscribe and per leave in a join_leave namespace: recording it in the
// node's window (the report itself is built once per 100 ms, below).
void BM_JoinLeaveRecord(benchmark::State& state) {
  herald::node::JoinLeaveBatch batch;
  const std::string channel = "chat:lobby";
  std::vector<std::string> clients;
  for (int i = 0; i < 64; ++i) {
    clients.push_back("node-127.0.0.1-8080-1-" + std::to_string(i));
  }
  size_t i = 0;
  for (auto _ : state) {
    const std::string& client = clients[i++ % clients.size()];
    batch.joined(channel, client, "user");
    batch.left(channel, client, "user");  // coalesced away: the window stays small
  }
}
BENCHMARK(BM_JoinLeaveRecord);

// herald-node, once per 100 ms window: a report of 100 channels with 10 joins each.
void BM_JoinLeaveTake(benchmark::State& state) {
  herald::node::JoinLeaveBatch batch;
  for (auto _ : state) {
    state.PauseTiming();
    for (int c = 0; c < 100; ++c) {
      for (int j = 0; j < 10; ++j) {
        batch.joined("chat:" + std::to_string(c), "node-1-" + std::to_string(j), "user");
      }
    }
    state.ResumeTiming();
    benchmark::DoNotOptimize(batch.take());
  }
}
BENCHMARK(BM_JoinLeaveTake);

// herald-node, per client frame: JSON parsing of a subscribe.
// Issue 16: a filter group's cost per publication — one evaluation of the issue's example
// filter against a publication's tags, and the tags read once per publication per node.
const std::map<std::string, std::string> kTransferTags = {
    {"source_chain", "sol"}, {"dest_chain", "eth"}, {"amount_usd", "2500.75"}, {"token", "USDC"}};

void BM_TagFilterMatch(benchmark::State& state) {
  auto filter = herald::TagFilter::compile(
                    nlohmann::json::parse(R"({"and":[{"key":"source_chain","in":["eth","sol"]},)"
                                          R"({"key":"amount_usd","gte":"1000"}]})"))
                    .value();
  const herald::TagSet tags = herald::TagSet::of(kTransferTags);
  for (auto _ : state) {
    benchmark::DoNotOptimize(filter->matches(tags));
  }
}
BENCHMARK(BM_TagFilterMatch);

void BM_TagSetOf(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(herald::TagSet::of(kTransferTags));
  }
}
BENCHMARK(BM_TagSetOf);

// A filter group's own frame of a publication (with `prev`): built once per group.
void BM_WithPrevFrame(benchmark::State& state) {
  const auto delivery = herald::node::makeDelivery(samplePublication(200));
  for (auto _ : state) {
    benchmark::DoNotOptimize(herald::node::withPrevFrame(*delivery->frame, 123455));
  }
}
BENCHMARK(BM_WithPrevFrame);

void BM_ParseSubscribeFrame(benchmark::State& state) {
  const std::string frame =
      R"({"type":"subscribe","id":4,"channels":["token:price","alerts"],"since":{"alerts":{"offset":17,"epoch":"ae1a4e3ebaaab331"}}})";
  for (auto _ : state) {
    benchmark::DoNotOptimize(herald::node::parseClientFrame(frame));
  }
}
BENCHMARK(BM_ParseSubscribeFrame);

// herald-control, per publication: offset, history and routing (no node attached).
void BM_MemoryStreamEnginePublish(benchmark::State& state) {
  herald::control::Router router;
  herald::control::MemoryStreamEngine registry(router);
  herald::control::PublishItem item;
  item.channel = "token:price";
  item.data = "{\"p\":\"" + std::string(192, 'x') + "\"}";
  item.history = herald::control::HistoryPolicy{static_cast<uint32_t>(state.range(0)), 0};
  for (auto _ : state) {
    benchmark::DoNotOptimize(registry.publish(item));
  }
}
BENCHMARK(BM_MemoryStreamEnginePublish)->Arg(0)->Arg(1000);

// herald-bench, per received frame: frame parse, timestamp and offset lookup, histogram.
void BM_BenchReceivesFrame(benchmark::State& state) {
  const std::string json = herald::node::buildMessageFrame(samplePublication(200));
  std::string wire = herald::node::buildMessageFrame(samplePublication(200));
  wire.insert(
      0, std::string{static_cast<char>(0x81), static_cast<char>(126),
                     static_cast<char>(json.size() >> 8), static_cast<char>(json.size() & 0xff)});
  herald::bench::LatencyHistogram histogram;
  for (auto _ : state) {
    herald::bench::ServerFrame frame;
    herald::bench::parseServerFrame(wire, &frame);
    uint64_t offset = 0;
    uint64_t ts = 0;
    herald::bench::findNumber(frame.payload, "\"offset\":", &offset);
    herald::bench::findNumber(frame.payload, "\"ts\":", &ts);
    histogram.record(ts & 0xffff);
    benchmark::DoNotOptimize(offset);
  }
}
BENCHMARK(BM_BenchReceivesFrame);

}  // namespace

BENCHMARK_MAIN();
