// Frames compressed once for every connection that negotiated permessage-deflate.

#include "dataplane/fanout/prepared_frame.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/deflate_codec.h"
#include "dataplane/transport/deflate_settings.h"

namespace herald::node {
namespace {

struct WireFrame {
  uint8_t first = 0;  // FIN, RSV1-3, opcode
  std::string payload;
};

// Splits server frames (unmasked) as a client reads them.
std::vector<WireFrame> parseFrames(const std::string& bytes) {
  std::vector<WireFrame> frames;
  size_t at = 0;
  while (at + 2 <= bytes.size()) {
    WireFrame f;
    f.first = static_cast<uint8_t>(bytes[at]);
    size_t len = static_cast<uint8_t>(bytes[at + 1]) & 0x7f;
    at += 2;
    if (len == 126) {
      len = (static_cast<uint8_t>(bytes[at]) << 8) | static_cast<uint8_t>(bytes[at + 1]);
      at += 2;
    }
    f.payload = bytes.substr(at, len);
    at += len;
    frames.push_back(f);
  }
  EXPECT_EQ(at, bytes.size());
  return frames;
}

std::string wire(const WsMessagePtr& m) { return m->get_header() + m->get_payload(); }

std::string inflated(const std::string& compressed) {
  std::string out;
  EXPECT_EQ(inflateMessage(compressed, 1 << 20, &out), InflateResult::kOk);
  return out;
}

std::string jsonOf(size_t bytes) {
  std::string s = R"({"type":"message","channel":"prices","data":[)";
  while (s.size() < bytes) {
    s += R"({"symbol":"BTC-USD","bid":64123.5},)";
  }
  s += "0]}";
  return s;
}

class PreparedFrameTest : public ::testing::Test {
 protected:
  void SetUp() override { setDeflateSettings(DeflateSettings{true, 256, 1}); }
  void TearDown() override { setDeflateSettings(DeflateSettings{}); }
};

TEST_F(PreparedFrameTest, CompressesOnceOnFirstUseAndSharesTheCopy) {
  const std::string payload = jsonOf(2000);
  const FramePtr frame = prepareTextFrame(payload);
  const WsMessagePtr& first = frame->deflated();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(frame->deflated().get(), first.get()) << "made once, then shared";
  const auto frames = parseFrames(wire(first));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].first, 0xC1) << "FIN + RSV1 + text";
  EXPECT_LT(frames[0].payload.size(), payload.size() / 4);
  EXPECT_EQ(inflated(frames[0].payload), payload);
  // The plain frame is still there for every other connection.
  EXPECT_EQ(frame->message->get_payload(), payload);
  EXPECT_EQ(static_cast<uint8_t>(frame->message->get_header()[0]), 0x81);
}

TEST_F(PreparedFrameTest, NoCopyWhenOffSmallOrIncompressible) {
  EXPECT_EQ(prepareTextFrame(jsonOf(100))->deflated(), nullptr) << "under min_bytes";
  std::mt19937 rng(7);
  std::string noise(4000, '\0');
  for (char& c : noise) {
    c = static_cast<char>('!' + rng() % 90);
  }
  noise = "\"" + noise + "\"";
  const FramePtr random = prepareTextFrame(noise);
  if (random->deflated() != nullptr) {
    EXPECT_LT(wire(random->deflated()).size(), wire(random->message).size())
        << "a copy only when it is smaller";
  }
  setDeflateSettings(DeflateSettings{false, 256, 1});
  EXPECT_EQ(prepareTextFrame(jsonOf(2000))->deflated(), nullptr) << "compression off";
}

TEST_F(PreparedFrameTest, JoinedRunsKeepEachMessageWhole) {
  const FramePtr big = prepareTextFrame(jsonOf(1000));
  const FramePtr small = prepareTextFrame(R"({"type":"message","offset":2})");
  ASSERT_NE(big->deflated(), nullptr);
  ASSERT_EQ(small->deflated(), nullptr);
  const FramePtr joined = joinFrames({big, small, big});
  const auto plain = parseFrames(wire(joined->message));
  ASSERT_EQ(plain.size(), 3u);
  ASSERT_NE(joined->deflated(), nullptr);
  const auto mixed = parseFrames(wire(joined->deflated()));
  ASSERT_EQ(mixed.size(), 3u);
  EXPECT_EQ(mixed[0].first, 0xC1);
  EXPECT_EQ(mixed[1].first, 0x81);
  EXPECT_EQ(mixed[2].first, 0xC1);
  EXPECT_EQ(inflated(mixed[0].payload), plain[0].payload);
  EXPECT_EQ(mixed[1].payload, plain[1].payload);
  EXPECT_EQ(inflated(mixed[2].payload), plain[2].payload);

  EXPECT_EQ(joinFrames({small, small})->deflated(), nullptr);
  setDeflateSettings(DeflateSettings{});
  EXPECT_TRUE(joinFrames({big, small})->parts.empty()) << "nothing kept with compression off";
}

TEST_F(PreparedFrameTest, FilteredGroupFramesAreCompressedToo) {
  const FramePtr base = prepareTextFrame(jsonOf(1000));
  const FramePtr with_prev = withPrevFrame(*base, 41);
  ASSERT_NE(with_prev->deflated(), nullptr);
  const auto frames = parseFrames(wire(with_prev->deflated()));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(inflated(frames[0].payload), with_prev->message->get_payload());
  EXPECT_NE(with_prev->message->get_payload().find("\"prev\":41"), std::string::npos);
}

}  // namespace
}  // namespace herald::node
