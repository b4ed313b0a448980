// permessage-deflate on real binaries (docs/operations.md "Compression"): a node started with
// --compression answers offers with no context takeover, sends the connections that agreed one
// compressed copy of each large publication (the same bytes a plain client gets, inflated),
// inflates what they send, closes hostile compressed input with documented codes, works with
// another client implementation (python3-websockets), and leaves everything as it was when off.
#include <zlib.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/support/cluster.h"
#include "integration/support/process.h"
#include "integration/support/raw_ws.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

using nlohmann::json;

constexpr const char* kOffer =
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits";
constexpr const char* kAnswer =
    "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
    "client_no_context_takeover";

// zlib's own raw inflate (not the node's code): appends the tail the sender removed.
std::string inflateRaw(const std::string& in) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, -15), Z_OK);
  std::string input = in + std::string("\x00\x00\xff\xff", 4);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(input.data());
  z.avail_in = static_cast<uInt>(input.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_SYNC_FLUSH);
  EXPECT_TRUE(rc == Z_OK || rc == Z_STREAM_END) << rc;
  out.resize(out.size() - z.avail_out);
  inflateEnd(&z);
  return out;
}

std::string deflateRaw(const std::string& in) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_SYNC_FLUSH);
  out.resize(out.size() - z.avail_out - 4);  // without 00 00 ff ff, as on the wire
  deflateEnd(&z);
  return out;
}

// A publication large enough to be compressed: a price book.
json book(int n) {
  json levels = json::array();
  for (int i = 0; i < 60; ++i) {
    levels.push_back({{"price", 64000 + i * 0.5 + n}, {"size", 1.25 * (i % 7)}});
  }
  return {{"symbol", "BTC-USD"}, {"seq", n}, {"bids", levels}};
}

class CompressionTest : public ::testing::Test {
 protected:
  void start(const std::vector<std::string>& node_args) {
    cluster_.startControl();
    cluster_.startNode(node_args);
    ASSERT_TRUE(cluster_.waitHealthyNodes(1));
    herald::v1::Namespace ns;
    ns.set_name("prices");
    ns.set_allow_client_publish(true);
    ASSERT_TRUE(cluster_.createNamespace(ns));
  }

  void publish(const json& data) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    herald::v1::PublishRequest req;
    req.set_channel("prices:btc");
    req.set_data(data.dump());
    herald::v1::PublishResponse out;
    ASSERT_TRUE(cluster_.api().Publish(&ctx, req, &out).ok());
  }

  // The next text frame; `compressed` says whether it came with RSV1, and it is returned
  // inflated.
  static json nextFrame(RawWs& ws, bool* compressed) {
    auto frame = ws.readFrame(10s);
    EXPECT_TRUE(frame.has_value());
    if (!frame) {
      return json();
    }
    *compressed = frame->rsv1;
    return json::parse(frame->rsv1 ? inflateRaw(frame->payload) : frame->payload);
  }

  json stats() { return json::parse(httpGet(cluster_.nodeAddress(0), "/stats").body); }

  Cluster cluster_;
};

TEST_F(CompressionTest, OneCompressedCopyForClientsThatAgreedPlainBytesForTheRest) {
  start({"--compression", "--compression-min-bytes", "200"});
  RawWs deflating(cluster_.nodeAddress(0), "/ws", {kOffer});
  RawWs plain(cluster_.nodeAddress(0), "/ws");
  ASSERT_EQ(deflating.status(), 101);
  ASSERT_EQ(plain.status(), 101);
  EXPECT_NE(deflating.responseHead().find(kAnswer), std::string::npos) << deflating.responseHead();
  EXPECT_EQ(plain.responseHead().find("Sec-WebSocket-Extensions"), std::string::npos);

  bool compressed = true;
  EXPECT_EQ(nextFrame(deflating, &compressed)["type"], "connected");
  EXPECT_FALSE(compressed) << "under --compression-min-bytes: sent as it is";
  EXPECT_EQ(nextFrame(plain, &compressed)["type"], "connected");

  // The client's own frame compressed, as browsers send theirs.
  const std::string subscribe = R"({"type":"subscribe","id":1,"channels":["prices:btc"]})";
  ASSERT_TRUE(deflating.sendFrame(0x1, deflateRaw(subscribe), true, true));
  ASSERT_TRUE(plain.sendFrame(0x1, subscribe));
  EXPECT_EQ(nextFrame(deflating, &compressed)["type"], "reply");
  EXPECT_EQ(nextFrame(plain, &compressed)["type"], "reply");
  ASSERT_TRUE(cluster_.waitInterest("prices:btc", 1));
  EXPECT_EQ(stats()["compressed_connections"], 1);

  publish(book(1));
  publish({{"small", true}});
  publish(book(2));
  for (int i = 0; i < 3; ++i) {
    auto raw_plain = plain.readFrame(10s);
    auto raw_deflated = deflating.readFrame(10s);
    ASSERT_TRUE(raw_plain && raw_deflated);
    EXPECT_FALSE(raw_plain->rsv1);
    const bool big = i != 1;
    EXPECT_EQ(raw_deflated->rsv1, big) << i;
    if (big) {
      EXPECT_LT(raw_deflated->payload.size(), raw_plain->payload.size() / 3);
      EXPECT_EQ(inflateRaw(raw_deflated->payload), raw_plain->payload)
          << "the same message, byte for byte";
    } else {
      EXPECT_EQ(raw_deflated->payload, raw_plain->payload);
    }
    const json expected = i == 1 ? json{{"small", true}} : book(i == 0 ? 1 : 2);
    EXPECT_EQ(json::parse(raw_plain->payload)["data"], expected);
  }
}

TEST_F(CompressionTest, HostileCompressedInputIsClosedWithDocumentedCodes) {
  start({"--compression"});
  // 4 MiB of zeros in a few KiB: over max_inbound_frame_bytes (64 KiB) once inflated.
  RawWs bomb(cluster_.nodeAddress(0), "/ws", {kOffer});
  ASSERT_EQ(bomb.status(), 101);
  ASSERT_TRUE(bomb.readFrame(10s).has_value());  // connected
  const std::string zeros = deflateRaw(std::string(4 << 20, '0'));
  ASSERT_LT(zeros.size(), 65536u);
  ASSERT_TRUE(bomb.sendFrame(0x1, zeros, true, true));
  EXPECT_EQ(bomb.waitCloseCode(10s), 1009);

  RawWs corrupt(cluster_.nodeAddress(0), "/ws", {kOffer});
  ASSERT_TRUE(corrupt.readFrame(10s).has_value());
  ASSERT_TRUE(corrupt.sendFrame(0x1, std::string("\xff\xfe\xfd\xfc\xfb", 5), true, true));
  EXPECT_EQ(corrupt.waitCloseCode(10s), 1007);

  // Compressed fragments that never end: bounded before any inflating.
  RawWs endless(cluster_.nodeAddress(0), "/ws", {kOffer});
  ASSERT_TRUE(endless.readFrame(10s).has_value());
  bool sent = endless.sendFrame(0x1, std::string(60000, 'x'), false, true);
  for (int i = 0; i < 4 && sent; ++i) {
    sent = endless.sendFrame(0x0, std::string(60000, 'x'), false, false);
  }
  EXPECT_EQ(endless.waitCloseCode(10s), 1009);

  const json s = stats();
  EXPECT_EQ(s["frames_too_large"], 2) << s;
  EXPECT_EQ(s["invalid_utf8"], 1) << s;  // 1007 is counted there
  ASSERT_TRUE(eventually([&] { return stats()["compressed_connections"] == 0; }, 10s));
  // The node serves on.
  WsClient after(cluster_.wsUrl(0));
  ASSERT_TRUE(after.waitOpen(10s));
  EXPECT_TRUE(after.nextOfType("connected", 10s).has_value());
}

TEST_F(CompressionTest, OffByDefault) {
  start({});
  RawWs ws(cluster_.nodeAddress(0), "/ws", {kOffer});
  ASSERT_EQ(ws.status(), 101);
  EXPECT_EQ(ws.responseHead().find("Sec-WebSocket-Extensions"), std::string::npos)
      << "the offer is declined";
  ASSERT_TRUE(ws.readFrame(10s).has_value());
  // RSV1 without the extension is a protocol error (RFC 6455 5.2).
  ASSERT_TRUE(ws.sendFrame(0x1, deflateRaw(R"({"type":"ping","id":1})"), true, true));
  EXPECT_EQ(ws.waitCloseCode(10s), 1002);
}

TEST_F(CompressionTest, PythonWebsocketsNegotiatesSendsAndReceives) {
  start({"--compression"});
  Process client("/usr/bin/python3",
                 {std::string(HERALD_SOURCE_DIR) + "/tests/integration/support/deflate_client.py",
                  cluster_.wsUrl(0), "prices:btc", "3"});
  ASSERT_TRUE(client.waitForOutput("subscribe: reply", 30s)) << client.output();
  EXPECT_NE(client.output().find("extensions: permessage-deflate; server_no_context_takeover; "
                                 "client_no_context_takeover"),
            std::string::npos)
      << client.output();
  EXPECT_NE(client.output().find("negotiated: PerMessageDeflate"), std::string::npos);
  ASSERT_TRUE(cluster_.waitInterest("prices:btc", 1));
  for (int i = 1; i <= 3; ++i) {
    publish(book(i));
  }
  ASSERT_TRUE(client.waitForOutput("done", 30s)) << client.output();
  for (int i = 1; i <= 3; ++i) {
    EXPECT_NE(client.output().find("message: " + book(i).dump()), std::string::npos) << i;
  }
  EXPECT_EQ(client.waitExit(10s), 0);
  // herald_node_sent_bytes_total counts what went on the wire: compressed here.
  const std::string metrics = httpGet(cluster_.nodeAddress(0), "/metrics").body;
  const std::string name = "\nherald_node_sent_bytes_total ";
  const size_t at = metrics.find(name);
  ASSERT_NE(at, std::string::npos) << metrics;
  const double sent = std::stod(metrics.substr(at + name.size()));
  EXPECT_LT(sent, 3 * book(1).dump().size() / 2.0) << "three books went out compressed";
}

}  // namespace
}  // namespace herald::testing
