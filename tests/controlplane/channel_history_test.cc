#include "controlplane/channel_history.h"

#include <gtest/gtest.h>

namespace herald::control {
namespace {

PublicationPtr pub(uint64_t offset, size_t data_bytes = 1) {
  auto p = std::make_shared<herald::v1::Publication>();
  p->set_offset(offset);
  p->set_data(std::string(data_bytes, '1'));
  return p;
}

std::vector<uint64_t> offsets(const HistoryRead& read) {
  std::vector<uint64_t> out;
  for (const auto& p : read.publications) {
    out.push_back(p->offset());
  }
  return out;
}

TEST(ChannelHistoryTest, KeepsTheLastSizePublications) {
  ChannelHistory h;
  HistoryPolicy policy{3, 0};
  for (uint64_t i = 1; i <= 5; ++i) {
    h.append(pub(i), policy, 0);
  }
  EXPECT_EQ(h.size(), 3u);
  auto read = h.readSince(2, 5, 0, 0, 0, 0);
  EXPECT_TRUE(read.recovered);
  EXPECT_EQ(offsets(read), (std::vector<uint64_t>{3, 4, 5}));
  // Offset 2 itself is gone: a client at 1 missed it.
  auto gap = h.readSince(1, 5, 0, 0, 0, 0);
  EXPECT_FALSE(gap.recovered);
  EXPECT_EQ(offsets(gap), (std::vector<uint64_t>{3, 4, 5}));
}

TEST(ChannelHistoryTest, UpToDateClientRecoversWithNothing) {
  ChannelHistory h;
  h.append(pub(1), HistoryPolicy{10, 0}, 0);
  auto read = h.readSince(1, 1, 0, 0, 0, 0);
  EXPECT_TRUE(read.recovered);
  EXPECT_TRUE(read.publications.empty());
  // A position past the stream's offset is not from this epoch's history.
  EXPECT_FALSE(h.readSince(7, 1, 0, 0, 0, 0).recovered);
}

TEST(ChannelHistoryTest, TtlExpiresOldestFirstEvenBeforeExpireRuns) {
  ChannelHistory h;
  HistoryPolicy policy{10, 1000};
  h.append(pub(1), policy, 0);
  h.append(pub(2), policy, 600);
  // At 1200 offset 1 is past its TTL: reading from 0 has a gap, from 1 does not.
  EXPECT_FALSE(h.readSince(0, 2, 0, 0, policy.ttl_ms, 1200).recovered);
  auto read = h.readSince(1, 2, 0, 0, policy.ttl_ms, 1200);
  EXPECT_TRUE(read.recovered);
  EXPECT_EQ(offsets(read), (std::vector<uint64_t>{2}));
  EXPECT_EQ(h.expire(policy.ttl_ms, 1200), 1u);
  EXPECT_EQ(h.expire(policy.ttl_ms, 1700), 1u);
  EXPECT_TRUE(h.empty());
  EXPECT_FALSE(h.readSince(1, 2, 0, 0, policy.ttl_ms, 1700).recovered);
}

TEST(ChannelHistoryTest, PagesByCountAndBytes) {
  ChannelHistory h;
  HistoryPolicy policy{100, 0};
  for (uint64_t i = 1; i <= 10; ++i) {
    h.append(pub(i, 100), policy, 0);
  }
  EXPECT_EQ(offsets(h.readSince(0, 10, 4, 0, 0, 0)), (std::vector<uint64_t>{1, 2, 3, 4}));
  // Each counts its data and about 128 bytes of frame (publicationBytes): 228 here.
  EXPECT_EQ(offsets(h.readSince(4, 10, 0, 500, 0, 0)), (std::vector<uint64_t>{5, 6}));
  // One publication larger than the budget still comes (alone), so paging always advances.
  EXPECT_EQ(offsets(h.readSince(8, 10, 0, 10, 0, 0)), (std::vector<uint64_t>{9}));
}

TEST(ChannelHistoryTest, TagsCountInAPagesBytes) {
  herald::v1::Publication plain;
  plain.set_data("1");
  herald::v1::Publication tagged = plain;
  (*tagged.mutable_tags())["source_chain"] = std::string(200, 'x');
  EXPECT_EQ(publicationBytes(tagged) - publicationBytes(plain), 12u + 200u + 6u);
}

TEST(ChannelHistoryTest, SizeZeroKeepsNothing) {
  ChannelHistory h;
  h.append(pub(1), HistoryPolicy{0, 0}, 0);
  EXPECT_TRUE(h.empty());
  EXPECT_FALSE(h.readSince(0, 1, 0, 0, 0, 0).recovered);
}

}  // namespace
}  // namespace herald::control
