#include "dataplane/sse/sse_events.h"

#include <gtest/gtest.h>

#include "dataplane/session/frame_builder.h"
#include "dataplane/transport/upgrade_request.h"
#include "herald/v1/node_link.pb.h"

namespace herald::node {
namespace {

herald::v1::Deliver channelDelivery(const std::string& channel, uint64_t offset,
                                    const std::string& event = "") {
  herald::v1::Deliver d;
  d.set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
  d.mutable_publication()->set_channel(channel);
  d.mutable_publication()->set_offset(offset);
  d.mutable_publication()->set_epoch("Ep0ch");
  d.mutable_publication()->set_event(event);
  d.mutable_publication()->set_data(R"({"price":1,"note":"\"offset\":99"})");
  return d;
}

// What EventSource would hand to onmessage for one event's bytes.
std::string dispatchedData(const std::string& event) {
  std::string data;
  size_t start = 0;
  while (start < event.size()) {
    const size_t eol = event.find('\n', start);
    const std::string line = event.substr(start, eol - start);
    start = eol + 1;
    if (line.empty()) {
      break;
    }
    EXPECT_EQ(line.rfind("data: ", 0), 0u) << line;
    if (!data.empty()) {
      data.push_back('\n');
    }
    data.append(line.substr(6));
  }
  return data;
}

TEST(SseEventsTest, AFrameIsOneEventWhoseDataIsTheFrame) {
  std::string out;
  appendSseData(&out, R"({"type":"message","data":{"a":1}})");
  EXPECT_EQ(out, "data: {\"type\":\"message\",\"data\":{\"a\":1}}\n\n");
}

TEST(SseEventsTest, LineBreaksBetweenTokensBecomeDataLinesThatRejoin) {
  // A backend's pretty-printed JSON keeps its line breaks; CR, LF and CRLF each end a line.
  std::string out;
  appendSseData(&out, "{\n  \"a\": 1,\r\n  \"b\": 2\r}");
  EXPECT_EQ(out, "data: {\ndata:   \"a\": 1,\ndata:   \"b\": 2\ndata: }\n\n");
  EXPECT_EQ(dispatchedData(out), "{\n  \"a\": 1,\n  \"b\": 2\n}");
  // No line of the event can be blank (which would dispatch early) or a field of its own.
  std::string blank;
  appendSseData(&blank, "\n\n");
  EXPECT_EQ(blank, "data: \ndata: \ndata: \n\n");
}

TEST(SseEventsTest, MessagePositionOfChannelUserAndBroadcastFrames) {
  auto pos = messagePosition(buildMessageFrame(channelDelivery("chat:room\"1", 42)));
  ASSERT_TRUE(pos);
  EXPECT_FALSE(pos->user_stream);
  EXPECT_EQ(pos->stream, "chat:room\"1");
  EXPECT_EQ(pos->offset, 42u);
  EXPECT_EQ(pos->epoch, "Ep0ch");

  pos = messagePosition(buildMessageFrame(channelDelivery("prices:btc", 7, "tick")));
  ASSERT_TRUE(pos);
  EXPECT_EQ(pos->offset, 7u);

  herald::v1::Deliver user = channelDelivery("", 3);
  user.set_target(herald::v1::DELIVERY_TARGET_USER);
  user.set_user("alice");
  pos = messagePosition(buildMessageFrame(user));
  ASSERT_TRUE(pos);
  EXPECT_TRUE(pos->user_stream);
  EXPECT_EQ(pos->stream, "alice");
  EXPECT_EQ(pos->offset, 3u);

  herald::v1::Deliver all = channelDelivery("", 0);
  all.set_target(herald::v1::DELIVERY_TARGET_ALL);
  EXPECT_FALSE(messagePosition(buildMessageFrame(all)));
  EXPECT_FALSE(messagePosition(R"({"client":"x","type":"connected"})"));
  EXPECT_FALSE(messagePosition(
      R"({"type":"message","channel":"a","offset":99999999999999999999999,"epoch":"e"})"));
  EXPECT_FALSE(messagePosition(R"({"type":"message","channel":"a)"));
}

TEST(SseEventsTest, SplitsFramesWrittenBackToBack) {
  const auto frame = [](const std::string& payload) {
    std::string out(1, '\x81');
    if (payload.size() < 126) {
      out.push_back(static_cast<char>(payload.size()));
    } else if (payload.size() < 65536) {
      out.push_back(126);
      out.push_back(static_cast<char>(payload.size() >> 8));
      out.push_back(static_cast<char>(payload.size() & 0xff));
    } else {
      out.push_back(127);
      for (int i = 7; i >= 0; --i) {
        out.push_back(static_cast<char>((static_cast<uint64_t>(payload.size()) >> (8 * i)) & 0xff));
      }
    }
    return out + payload;
  };
  const std::string a = "{\"n\":1}", b(300, 'b'), c(70000, 'c');
  const std::string joined = frame(a) + frame(b) + frame(c);
  const auto parts = splitPreparedFrames(joined);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], a);
  EXPECT_EQ(parts[1], b);
  EXPECT_EQ(parts[2], c);
  // A cut frame is not read past.
  EXPECT_EQ(splitPreparedFrames(joined.substr(0, joined.size() - 1)).size(), 2u);
  EXPECT_TRUE(splitPreparedFrames(std::string("\x81\x7f\xff", 3)).empty());
}

TEST(SseEventsTest, LastEventIdEntriesRoundTrip) {
  auto entries = parseLastEventId(",12:aB3,,7", 4);
  ASSERT_TRUE(entries);
  EXPECT_EQ(*entries, (std::vector<std::string>{"", "12:aB3", "", "7"}));
  EXPECT_EQ(formatEventId(*entries), ",12:aB3,,7");
  EXPECT_TRUE(parseLastEventId("5:u", 1));
  EXPECT_TRUE(parseLastEventId("", 1));
}

TEST(SseEventsTest, LastEventIdRefusesWhatIsNotPositions) {
  EXPECT_FALSE(parseLastEventId(",1,2", 2)) << "more entries than streams";
  EXPECT_FALSE(parseLastEventId(",x:1", 2));
  EXPECT_FALSE(parseLastEventId(",1:ep-och", 2)) << "epochs are letters and digits";
  EXPECT_FALSE(parseLastEventId(",99999999999999999999999", 2));
  EXPECT_FALSE(parseLastEventId(std::string(kMaxLastEventIdBytes + 1, ','), 1u << 20));
  EXPECT_FALSE(parseLastEventId(",1:" + std::string(65, 'e'), 2));
}

TEST(SseEventsTest, TokensFromAuthorizationAndCookies) {
  EXPECT_EQ(bearerToken("Bearer abc.def"), "abc.def");
  EXPECT_EQ(bearerToken("bearer   abc "), "abc");
  EXPECT_FALSE(bearerToken("Basic dXNlcjpwYXNz"));
  EXPECT_FALSE(bearerToken("Bearer "));
  EXPECT_FALSE(bearerToken(""));
  EXPECT_EQ(cookieValue("theme=dark; herald_token=t.o.k; x=1", kTokenCookie), "t.o.k");
  EXPECT_EQ(cookieValue("herald_token=\"q\"", kTokenCookie), "q");
  EXPECT_FALSE(cookieValue("not_herald_token=1; herald_tokenx=2", kTokenCookie));
  EXPECT_FALSE(cookieValue("", kTokenCookie));
}

TEST(SseEventsTest, RefusalsMapToHttpStatuses) {
  EXPECT_EQ(httpStatusForClose(4001), 401);
  EXPECT_EQ(httpStatusForClose(4002), 401);
  EXPECT_EQ(httpStatusForClose(4005), 403);
  EXPECT_EQ(httpStatusForClose(4030), 429);
  EXPECT_EQ(httpStatusForClose(1012), 503);
  EXPECT_EQ(httpStatusForErrorCode("permission_denied"), 403);
  EXPECT_EQ(httpStatusForErrorCode("bad_request"), 400);
  EXPECT_EQ(httpStatusForErrorCode("rate_limited"), 429);
}

}  // namespace
}  // namespace herald::node
