// The node's websocketpp processor with Herald's permessage-deflate (deflate_extension.h):
// negotiation, and client messages arriving compressed, fragmented, oversized or corrupt.

#include "dataplane/transport/deflate_extension.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/deflate_codec.h"
#include "dataplane/transport/deflate_settings.h"
#include "dataplane/transport/ws_config.h"

namespace herald::node {
namespace {

using Processor = websocketpp::processor::hybi13<WsConfig>;

// One masked client frame (RFC 6455 5.2).
std::string clientFrame(int opcode, const std::string& payload, bool fin, bool rsv1) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode));
  const size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  }
  const char mask[4] = {0x0a, 0x1b, 0x2c, 0x3d};
  f.append(mask, 4);
  for (size_t i = 0; i < n; ++i) {
    f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  }
  return f;
}

std::string compressed(const std::string& text) {
  std::string out;
  EXPECT_TRUE(deflateMessage(text, 6, &out));
  return out;
}

class DeflateExtensionTest : public ::testing::Test {
 protected:
  void SetUp() override { setDeflateSettings(DeflateSettings{true, 256, 1}); }
  void TearDown() override { setDeflateSettings(DeflateSettings{}); }

  // A server-side processor that negotiated `offer`; returns the answer.
  std::string negotiate(const std::string& offer) {
    WsConfig::request_type request;
    request.replace_header("Sec-WebSocket-Extensions", offer);
    const auto result = processor_.negotiate_extensions(request);
    EXPECT_FALSE(result.first) << result.first.message();
    return result.second;
  }

  // Feeds `bytes` in chunks of `chunk` (as reads would); the error, if any.
  websocketpp::lib::error_code feed(std::string bytes, size_t chunk = 7) {
    websocketpp::lib::error_code ec;
    size_t at = 0;
    while (at < bytes.size() && !ec) {
      const size_t n = std::min(chunk, bytes.size() - at);
      size_t used = 0;
      while (used < n && !ec) {
        used +=
            processor_.consume(reinterpret_cast<uint8_t*>(bytes.data() + at + used), n - used, ec);
        if (processor_.ready()) {
          received_.push_back(processor_.get_message()->get_payload());
        }
      }
      at += n;
    }
    return ec;
  }

  std::shared_ptr<WsConfig::con_msg_manager_type> manager_ =
      std::make_shared<WsConfig::con_msg_manager_type>();
  WsConfig::rng_type rng_;
  Processor processor_{false, true, manager_, rng_};
  std::vector<std::string> received_;
};

TEST_F(DeflateExtensionTest, NegotiatesNoContextTakeoverOnlyWhenTheNodeOffersIt) {
  EXPECT_EQ(negotiate("permessage-deflate; client_max_window_bits"),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover");

  setDeflateSettings(DeflateSettings{});  // the default: off
  Processor off(false, true, manager_, rng_);
  WsConfig::request_type request;
  request.replace_header("Sec-WebSocket-Extensions", "permessage-deflate");
  EXPECT_EQ(off.negotiate_extensions(request).second, "");
}

TEST_F(DeflateExtensionTest, FallsBackToALaterOfferWhenTheFirstAsksTooMuch) {
  EXPECT_EQ(negotiate("permessage-deflate; server_max_window_bits=10, permessage-deflate"),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
}

TEST_F(DeflateExtensionTest, InflatesCompressedMessagesWholeOrFragmented) {
  negotiate("permessage-deflate");
  processor_.set_max_message_size(65536);
  const std::string text = R"({"type":"subscribe","channel":"prices:btc","id":1})";
  const std::string wire = compressed(text);
  ASSERT_FALSE(feed(clientFrame(0x1, wire, true, true)));
  // The same message in three frames: RSV1 on the first only (RFC 7692 6.1).
  const size_t third = wire.size() / 3;
  ASSERT_FALSE(feed(clientFrame(0x1, wire.substr(0, third), false, true) +
                    clientFrame(0x0, wire.substr(third, third), false, false) +
                    clientFrame(0x0, wire.substr(2 * third), true, false)));
  // And an uncompressed one on the same connection.
  ASSERT_FALSE(feed(clientFrame(0x1, text, true, false)));
  ASSERT_EQ(received_.size(), 3u);
  for (const auto& m : received_) {
    EXPECT_EQ(m, text);
  }
}

TEST_F(DeflateExtensionTest, AZipBombIsTooBigNotAnAllocation) {
  negotiate("permessage-deflate");
  processor_.set_max_message_size(65536);
  const std::string bomb = compressed(std::string(4 << 20, 'a'));
  ASSERT_LT(bomb.size(), 65536u);
  const auto ec = feed(clientFrame(0x1, bomb, true, true), 4096);
  EXPECT_EQ(ec, websocketpp::processor::error::make_error_code(
                    websocketpp::processor::error::message_too_big));
  EXPECT_EQ(websocketpp::processor::error::to_ws(ec), 1009);
  EXPECT_TRUE(received_.empty());
}

TEST_F(DeflateExtensionTest, CompressedFragmentsAreBoundedBeforeInflating) {
  negotiate("permessage-deflate");
  processor_.set_max_message_size(1000);
  // Each frame is under the limit; together they pass it, and the connection is closed while
  // the message is still open: a compressed message is bounded as sent and as inflated.
  const auto ec = feed(clientFrame(0x1, std::string(600, 'x'), false, true) +
                           clientFrame(0x0, std::string(600, 'x'), false, false),
                       512);
  EXPECT_EQ(websocketpp::processor::error::to_ws(ec), 1009);
  EXPECT_TRUE(received_.empty());
}

TEST_F(DeflateExtensionTest, APingInsideACompressedMessageIsAnsweredAndTheMessageKept) {
  negotiate("permessage-deflate");
  processor_.set_max_message_size(65536);
  const std::string text = R"({"type":"ping","id":42,"note":"between fragments"})";
  const std::string wire = compressed(text);
  ASSERT_FALSE(feed(clientFrame(0x1, wire.substr(0, 10), false, true) +
                    clientFrame(0x9, "hb", true, false) +
                    clientFrame(0x0, wire.substr(10), true, false)));
  ASSERT_EQ(received_.size(), 2u);
  EXPECT_EQ(received_[0], "hb");
  EXPECT_EQ(received_[1], text);
}

TEST_F(DeflateExtensionTest, RsvOneOnAContinuationFrameIsAProtocolError) {
  negotiate("permessage-deflate");
  processor_.set_max_message_size(65536);
  const std::string wire = compressed(R"({"type":"ping","id":1})");
  const auto ec = feed(clientFrame(0x1, wire.substr(0, 4), false, true) +
                       clientFrame(0x0, wire.substr(4), true, true));
  EXPECT_EQ(websocketpp::processor::error::to_ws(ec), 1002) << "RFC 7692 6.1";
}

TEST_F(DeflateExtensionTest, CorruptStreamsAndInvalidUtf8Are1007) {
  negotiate("permessage-deflate");
  processor_.set_max_message_size(65536);
  auto ec = feed(clientFrame(0x1, std::string("\xff\xff\xff\xff", 4), true, true));
  EXPECT_EQ(websocketpp::processor::error::to_ws(ec), 1007);

  Processor other(false, true, manager_, rng_);
  WsConfig::request_type request;
  request.replace_header("Sec-WebSocket-Extensions", "permessage-deflate");
  other.negotiate_extensions(request);
  other.set_max_message_size(65536);
  std::string frame = clientFrame(0x1, compressed("caf\xc3"), true, true);  // cut UTF-8
  other.consume(reinterpret_cast<uint8_t*>(frame.data()), frame.size(), ec);
  EXPECT_EQ(websocketpp::processor::error::to_ws(ec), 1007);
}

TEST_F(DeflateExtensionTest, InvalidUtf8InAFragmentedCompressedMessageIs1007) {
  negotiate("permessage-deflate");
  processor_.set_max_message_size(65536);
  const std::string wire = compressed("{\"type\":\"ping\",\"x\":\"\xff\xfe\"}");
  const auto ec = feed(clientFrame(0x1, wire.substr(0, 5), false, true) +
                       clientFrame(0x0, wire.substr(5), true, false));
  EXPECT_EQ(websocketpp::processor::error::to_ws(ec), 1007);
  EXPECT_TRUE(received_.empty());
}

TEST_F(DeflateExtensionTest, AMessageCutInsideABlockIs1007) {
  negotiate("permessage-deflate");
  processor_.set_max_message_size(65536);
  std::string text;
  for (int i = 0; i < 50; ++i) {
    text += R"({"type":"ping","id":)" + std::to_string(i) + "}";
  }
  const std::string wire = compressed(text);
  const auto ec = feed(clientFrame(0x1, wire.substr(0, wire.size() / 2), true, true));
  EXPECT_EQ(websocketpp::processor::error::to_ws(ec), 1007);
}

TEST_F(DeflateExtensionTest, RsvOneWithoutNegotiationIsAProtocolError) {
  processor_.set_max_message_size(65536);
  const auto ec = feed(clientFrame(0x1, compressed("hello"), true, true));
  EXPECT_EQ(websocketpp::processor::error::to_ws(ec), 1002);
}

}  // namespace
}  // namespace herald::node
