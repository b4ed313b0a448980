#include "common/deflate_codec.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace herald {
namespace {

std::string publication(int n) {
  std::string frame = R"({"type":"message","channel":"prices:btc","offset":)" + std::to_string(n) +
                      R"(,"data":{"symbol":"BTC-USD","bid":64123.5,"ask":64124.0,"ts":1733}})";
  return frame;
}

// Another DEFLATE implementation's output (zlib's own API, as a browser would use it).
std::string zlibRaw(const std::string& in, int flush, int level = 9) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, level, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, flush);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

TEST(DeflateCodecTest, RoundTripsAndDropsTheFlushTail) {
  const std::string in = publication(1) + publication(2) + publication(3);
  std::string compressed;
  ASSERT_TRUE(deflateMessage(in, 1, &compressed));
  EXPECT_LT(compressed.size(), in.size() * 2 / 3);
  ASSERT_GE(compressed.size(), 4u);
  EXPECT_NE(compressed.substr(compressed.size() - 4), std::string("\x00\x00\xff\xff", 4))
      << "RFC 7692 7.2.1: the sender removes the tail";
  std::string out;
  EXPECT_EQ(inflateMessage(compressed, 1 << 20, &out), InflateResult::kOk);
  EXPECT_EQ(out, in);
}

TEST(DeflateCodecTest, EveryLevelAndAnEmptyMessageRoundTrip) {
  for (int level = 1; level <= 9; ++level) {
    std::string compressed;
    ASSERT_TRUE(deflateMessage(publication(level), level, &compressed)) << level;
    std::string out;
    ASSERT_EQ(inflateMessage(compressed, 4096, &out), InflateResult::kOk) << level;
    EXPECT_EQ(out, publication(level));
  }
  std::string empty;
  ASSERT_TRUE(deflateMessage("", 1, &empty));
  std::string out = "kept";
  EXPECT_EQ(inflateMessage(empty, 10, &out), InflateResult::kOk);
  EXPECT_EQ(out, "kept");
}

TEST(DeflateCodecTest, EachMessageStandsAlone) {
  // No context takeover: the second message must inflate without the first.
  std::string first;
  std::string second;
  ASSERT_TRUE(deflateMessage(publication(7), 6, &first));
  ASSERT_TRUE(deflateMessage(publication(7), 6, &second));
  EXPECT_EQ(first, second);
  std::string out;
  EXPECT_EQ(inflateMessage(second, 4096, &out), InflateResult::kOk);
  EXPECT_EQ(out, publication(7));
}

TEST(DeflateCodecTest, InflatesRfc7692Examples) {
  const std::string hello = "Hello";
  // 7.2.3.1: one compressed block; 7.2.3.3: a stored block (its flush begun in the last
  // byte); 7.2.3.4: BFINAL set.
  for (const std::string& wire : {std::string("\xf2\x48\xcd\xc9\xc9\x07\x00", 7),
                                  std::string("\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00", 11),
                                  std::string("\xf3\x48\xcd\xc9\xc9\x07\x00\x00", 8)}) {
    std::string out;
    EXPECT_EQ(inflateMessage(wire, 100, &out), InflateResult::kOk);
    EXPECT_EQ(out, hello);
  }
}

TEST(DeflateCodecTest, InflatesAnotherImplementationsStreams) {
  const std::string in = publication(42);
  std::string synced = zlibRaw(in, Z_SYNC_FLUSH);
  synced.resize(synced.size() - 4);  // what a client puts on the wire
  std::string out;
  EXPECT_EQ(inflateMessage(synced, 4096, &out), InflateResult::kOk);
  EXPECT_EQ(out, in);
  out.clear();
  EXPECT_EQ(inflateMessage(zlibRaw(in, Z_FINISH), 4096, &out), InflateResult::kOk);
  EXPECT_EQ(out, in);
}

TEST(DeflateCodecTest, StopsAZipBombAtTheLimit) {
  const std::string zeros(8 << 20, '\0');
  std::string bomb;
  ASSERT_TRUE(deflateMessage(zeros, 9, &bomb));
  ASSERT_LT(bomb.size(), 16u * 1024) << "8 MiB in a few KiB";
  std::string out = "prefix";
  EXPECT_EQ(inflateMessage(bomb, 65536, &out), InflateResult::kTooLarge);
  EXPECT_EQ(out, "prefix") << "nothing appended on failure";
  EXPECT_LE(out.capacity(), 65536u + 16384u + 64u) << "never grew past the limit";
}

TEST(DeflateCodecTest, TheLimitIsInclusive) {
  const std::string in(1000, 'a');
  std::string compressed;
  ASSERT_TRUE(deflateMessage(in, 1, &compressed));
  std::string out;
  EXPECT_EQ(inflateMessage(compressed, 1000, &out), InflateResult::kOk);
  EXPECT_EQ(out.size(), 1000u);
  out.clear();
  EXPECT_EQ(inflateMessage(compressed, 999, &out), InflateResult::kTooLarge);
  EXPECT_TRUE(out.empty());
}

TEST(DeflateCodecTest, RefusesAStreamCutInsideABlock) {
  std::string in;
  for (int i = 0; i < 20; ++i) {
    in += publication(i);
  }
  std::string compressed;
  ASSERT_TRUE(deflateMessage(in, 1, &compressed));
  std::string out;
  EXPECT_EQ(inflateMessage(compressed.substr(0, compressed.size() / 2), 1 << 20, &out),
            InflateResult::kCorrupt)
      << "half a message is not a message";
  EXPECT_TRUE(out.empty());
  // An empty payload is an empty message (RFC 7692 7.2.3.6 also allows a single 0x00).
  EXPECT_EQ(inflateMessage("", 10, &out), InflateResult::kOk);
  EXPECT_EQ(inflateMessage(std::string("\x00", 1), 10, &out), InflateResult::kOk);
  EXPECT_TRUE(out.empty());
}

TEST(DeflateCodecTest, RefusesCorruptStreams) {
  for (const std::string& wire : {std::string("\xff\xff\xff\xff", 4), std::string("\x07", 1),
                                  // A stored block whose length and its complement disagree.
                                  std::string("\x00\x05\x00\x00\x00Hello", 10)}) {
    std::string out;
    EXPECT_EQ(inflateMessage(wire, 4096, &out), InflateResult::kCorrupt);
    EXPECT_TRUE(out.empty());
  }
  // The decompressor is reused: a good message after a bad one still inflates.
  std::string good;
  ASSERT_TRUE(deflateMessage(publication(9), 1, &good));
  std::string out;
  EXPECT_EQ(inflateMessage(good, 4096, &out), InflateResult::kOk);
  EXPECT_EQ(out, publication(9));
}

}  // namespace
}  // namespace herald
