// Subscription filters over publication tags (docs/protocol.md "Tags and filters"): what each
// operator means, missing tags, numbers, and the bounds a hostile filter meets.
#include "common/tag_filter.h"

#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace herald {
namespace {

using nlohmann::json;

TagFilterPtr compile(const std::string& text) {
  auto filter = TagFilter::compile(json::parse(text));
  EXPECT_TRUE(filter.isOk()) << text << ": " << filter.status().message();
  return filter.isOk() ? filter.value() : nullptr;
}

std::string refusal(const std::string& text) {
  auto filter = TagFilter::compile(json::parse(text));
  EXPECT_FALSE(filter.isOk()) << text;
  if (filter.isOk()) {
    return "";
  }
  EXPECT_EQ(filter.status().code(), ErrorCode::kBadRequest);
  return filter.status().message();
}

bool matches(const std::string& filter, const std::map<std::string, std::string>& tags) {
  auto compiled = compile(filter);
  return compiled != nullptr && compiled->matches(TagSet::of(tags));
}

TEST(TagFilterTest, TheIssuesExampleMatchesOnChainAndAmount) {
  const std::string f =
      R"({"and":[{"key":"source_chain","in":["eth","sol"]},{"key":"amount_usd","gte":"1000"}]})";
  EXPECT_TRUE(matches(f, {{"source_chain", "eth"}, {"amount_usd", "1000"}}));
  EXPECT_TRUE(matches(f, {{"source_chain", "sol"}, {"amount_usd", "25000.5"}}));
  EXPECT_FALSE(matches(f, {{"source_chain", "btc"}, {"amount_usd", "5000"}}));
  EXPECT_FALSE(matches(f, {{"source_chain", "eth"}, {"amount_usd", "999.99"}}));
  EXPECT_FALSE(matches(f, {{"source_chain", "eth"}})) << "no amount: no match";
  EXPECT_FALSE(matches(f, {{"source_chain", "eth"}, {"amount_usd", "lots"}}))
      << "a value that is not a number never compares";
}

TEST(TagFilterTest, EachOperatorAndMissingTags) {
  const std::map<std::string, std::string> tags = {{"chain", "eth"}, {"n", "-2.5e1"}};
  EXPECT_TRUE(matches(R"({"key":"chain","eq":"eth"})", tags));
  EXPECT_FALSE(matches(R"({"key":"chain","eq":"ETH"})", tags)) << "case matters";
  EXPECT_FALSE(matches(R"({"key":"chain","ne":"eth"})", tags));
  EXPECT_TRUE(matches(R"({"key":"other","ne":"eth"})", tags)) << "missing: not equal";
  EXPECT_FALSE(matches(R"({"key":"other","eq":""})", tags)) << "missing is not empty";
  EXPECT_TRUE(matches(R"({"key":"chain","nin":["sol","btc"]})", tags));
  EXPECT_TRUE(matches(R"({"key":"other","nin":["sol"]})", tags));
  EXPECT_FALSE(matches(R"({"key":"other","in":["sol"]})", tags));
  EXPECT_TRUE(matches(R"({"key":"chain","exists":true})", tags));
  EXPECT_TRUE(matches(R"({"key":"other","exists":false})", tags));
  EXPECT_TRUE(matches(R"({"key":"n","lt":-20})", tags));
  EXPECT_TRUE(matches(R"({"key":"n","lte":"-25"})", tags));
  EXPECT_FALSE(matches(R"({"key":"n","gt":"-25"})", tags));
  EXPECT_TRUE(matches(R"({"key":"n","gte":-25})", tags));
  EXPECT_TRUE(matches(R"({"key":"chain","starts_with":"et"})", tags));
  EXPECT_FALSE(matches(R"({"key":"chain","starts_with":"ethereum"})", tags));
  EXPECT_TRUE(matches(R"({"key":"chain","ends_with":"th"})", tags));
  EXPECT_TRUE(matches(R"({"key":"chain","contains":"t"})", tags));
  EXPECT_FALSE(matches(R"({"key":"other","contains":""})", tags));
  EXPECT_TRUE(matches(R"({"not":{"key":"chain","eq":"sol"}})", tags));
  EXPECT_TRUE(matches(R"({"or":[{"key":"chain","eq":"sol"},{"key":"n","lt":0}]})", tags));
  EXPECT_FALSE(matches(R"({"and":[{"key":"chain","eq":"eth"},{"key":"n","gt":0}]})", tags));
}

TEST(TagFilterTest, NumbersAreJsonNumbersOnly) {
  double n = 0;
  EXPECT_TRUE(parseTagNumber("1000", &n));
  EXPECT_EQ(n, 1000);
  EXPECT_TRUE(parseTagNumber("-0.5e2", &n));
  EXPECT_EQ(n, -50);
  EXPECT_TRUE(parseTagNumber("1e-400", &n)) << "too small reads as 0";
  EXPECT_EQ(n, 0);
  EXPECT_TRUE(parseTagNumber("0.25", &n));
  for (const char* bad : {"", "inf", "nan", "-inf", "1e999", "0x10", "+1", " 1", "1 ", "1e", ".5",
                          "-", "1,000", "01", "1.", "-01", "1e+", "--1"}) {
    EXPECT_FALSE(parseTagNumber(bad, &n)) << bad;
  }
  EXPECT_FALSE(matches(R"({"key":"v","gt":0})", {{"v", "inf"}}));
}

TEST(TagFilterTest, EqualFiltersHaveOneCanonicalText) {
  auto a = compile(R"({ "eq" : "eth", "key" : "chain" })");
  auto b = compile(R"({"key":"chain","eq":"eth"})");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->canonical(), b->canonical());
  EXPECT_EQ(a->canonical(), R"({"eq":"eth","key":"chain"})");
  EXPECT_NE(compile(R"({"key":"chain","eq":"sol"})")->canonical(), a->canonical());
}

TEST(TagFilterTest, MalformedFiltersAreRefusedWithThePath) {
  EXPECT_EQ(refusal(R"("eth")"),
            "filter: must be an object: {\"key\":K,\"eq\":V}, {\"and\":[…]}, {\"or\":[…]} or "
            "{\"not\":{…}}");
  EXPECT_EQ(refusal(R"({"and":[{"key":"a","eq":"1"},{"key":"b","eqq":"2"}]})"),
            "filter.and[1]: unknown operator 'eqq' (expected eq, ne, in, nin, exists, gt, gte, "
            "lt, lte, starts_with, ends_with or contains)");
  EXPECT_NE(refusal(R"({"key":"a","eq":"1","ne":"2"})").find("one operator per condition"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"key":"a"})").find("needs an operator"), std::string::npos);
  EXPECT_NE(refusal(R"({"eq":"1"})").find("needs 'key'"), std::string::npos);
  EXPECT_NE(refusal(R"({"key":"a b","eq":"1"})").find("'key' must be a tag key"),
            std::string::npos);
  EXPECT_EQ(refusal(R"({"key":"a","gte":"lots"})"),
            "filter.gte: must be a number or a numeric string, e.g. \"1000\"");
  EXPECT_NE(refusal(R"({"key":"a","in":[]})").find("1..64 strings"), std::string::npos);
  EXPECT_NE(refusal(R"({"key":"a","in":[1]})").find("must hold strings"), std::string::npos);
  EXPECT_NE(refusal(R"({"key":"a","exists":"yes"})").find("true or false"), std::string::npos);
  EXPECT_NE(refusal(R"({"and":[]})").find("1..64 filters"), std::string::npos);
  EXPECT_NE(refusal(R"({"not":[]})").find("must be an object"), std::string::npos);
  EXPECT_NE(
      refusal(R"({"key":"a","eq":")" + std::string(257, 'x') + R"("})").find("at most 256 bytes"),
      std::string::npos);
}

TEST(TagFilterTest, DepthNodesAndSizeAreBounded) {
  // 8 levels are fine, 9 are not: each "not" is one level, the condition the last.
  std::string eight = R"({"key":"a","eq":"1"})";
  for (int i = 0; i < 7; ++i) {
    eight = R"({"not":)" + eight + "}";
  }
  EXPECT_NE(compile(eight), nullptr);
  EXPECT_EQ(refusal(R"({"not":)" + eight + "}"),
            "filter.not.not.not.not.not.not.not.not: nested deeper than 8 levels");

  json many = json::array();
  for (int i = 0; i < 63; ++i) {
    many.push_back({{"key", "k"}, {"eq", std::to_string(i)}});
  }
  EXPECT_TRUE(TagFilter::compile(json{{"or", many}}).isOk()) << "64 nodes with the 'or'";
  many.push_back({{"key", "k"}, {"eq", "x"}});
  auto over = TagFilter::compile(json{{"or", many}});
  ASSERT_FALSE(over.isOk());
  EXPECT_EQ(over.status().message(), "filter.or[63]: more than 64 conditions");

  json wide = json::array();
  for (int i = 0; i < 10; ++i) {
    wide.push_back({{"key", "k"}, {"eq", std::string(250, 'a' + i)}});
  }
  auto big = TagFilter::compile(json{{"or", wide}});
  ASSERT_FALSE(big.isOk());
  EXPECT_EQ(big.status().message(), "filter: longer than 2048 bytes as JSON");
}

}  // namespace
}  // namespace herald
