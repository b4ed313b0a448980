#include "dataplane/transport/deflate_negotiation.h"

#include <gtest/gtest.h>

namespace herald::node {
namespace {

constexpr const char* kAnswer =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

TEST(DeflateNegotiationTest, AnswersWhatBrowsersAndLibrariesOffer) {
  // Chromium and python-websockets: "permessage-deflate; client_max_window_bits".
  EXPECT_EQ(answerDeflateOffer({{"client_max_window_bits", ""}}), kAnswer);
  EXPECT_EQ(answerDeflateOffer({}), kAnswer);
  EXPECT_EQ(answerDeflateOffer({{"client_max_window_bits", "10"}}), kAnswer);
  EXPECT_EQ(
      answerDeflateOffer({{"server_no_context_takeover", ""}, {"client_no_context_takeover", ""}}),
      kAnswer);
}

TEST(DeflateNegotiationTest, EchoesAServerWindowOf15) {
  EXPECT_EQ(answerDeflateOffer({{"server_max_window_bits", "15"}}),
            std::string(kAnswer) + "; server_max_window_bits=15");
}

TEST(DeflateNegotiationTest, DeclinesWhatItCannotHonour) {
  // The node compresses once with a 15-bit window: a smaller one cannot be promised.
  EXPECT_EQ(answerDeflateOffer({{"server_max_window_bits", "10"}}), std::nullopt);
  // Malformed values and unknown parameters decline the offer (RFC 7692 7.1).
  for (const char* bad : {"", "7", "16", "015", "1a", "999"}) {
    EXPECT_EQ(answerDeflateOffer({{"server_max_window_bits", bad}}), std::nullopt) << bad;
  }
  for (const char* bad : {"7", "16", "x", "015"}) {
    EXPECT_EQ(answerDeflateOffer({{"client_max_window_bits", bad}}), std::nullopt) << bad;
  }
  EXPECT_EQ(answerDeflateOffer({{"server_no_context_takeover", "1"}}), std::nullopt);
  EXPECT_EQ(answerDeflateOffer({{"client_no_context_takeover", "yes"}}), std::nullopt);
  EXPECT_EQ(answerDeflateOffer({{"x-webkit-thing", ""}}), std::nullopt);
}

}  // namespace
}  // namespace herald::node
