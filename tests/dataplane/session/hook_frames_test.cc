// Frames carrying a backend's answers: its JSON as written, its refusals beside Herald's code.
#include "dataplane/session/hook_frames.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace herald::node {
namespace {

TEST(HookFramesTest, ASubscribeReplyCarriesInfoByChannelAsWritten) {
  const std::string frame = buildSubscribeReplyFrame(
      4, {"doc:1", "news"}, {{"doc:1", R"({"n":12345678901234567890123})"}});
  EXPECT_NE(frame.find(R"("info":{"doc:1":{"n":12345678901234567890123}})"), std::string::npos)
      << frame;
  const auto parsed = nlohmann::json::parse(frame);
  EXPECT_EQ(parsed["type"], "reply");
  EXPECT_EQ(parsed["id"], 4);
  EXPECT_EQ(parsed["channels"], nlohmann::json({"doc:1", "news"}));
  EXPECT_FALSE(nlohmann::json::parse(buildSubscribeReplyFrame(5, {"news"}, {})).contains("info"))
      << "no info, no member";
}

TEST(HookFramesTest, ARefusalCarriesTheBackendsErrorBesideHeraldsCode) {
  herald::v1::HookError error;
  error.set_code("not_member");
  error.set_message("bad \xff byte");
  const auto frame =
      nlohmann::json::parse(buildHookRefusalFrame(9, ErrorCode::kPermissionDenied, "doc:1", error));
  EXPECT_EQ(frame["type"], "error");
  EXPECT_EQ(frame["id"], 9);
  EXPECT_EQ(frame["code"], "permission_denied");
  EXPECT_EQ(frame["channel"], "doc:1");
  EXPECT_EQ(frame["backend"]["code"], "not_member");
  EXPECT_NE(frame["message"].get<std::string>().find("doc:1"), std::string::npos);

  error.clear_message();
  const auto bare = nlohmann::json::parse(
      buildHookRefusalFrame(std::nullopt, ErrorCode::kUnauthorized, "", error));
  EXPECT_FALSE(bare.contains("id"));
  EXPECT_FALSE(bare.contains("channel"));
  EXPECT_EQ(bare["message"], "not_member") << "the code stands in for a missing message";
}

TEST(HookFramesTest, RawMembersAreSplicedIntoTheObject) {
  EXPECT_EQ(withRawMember(R"({"type":"connected"})", "info", "[1,2]"),
            R"({"type":"connected","info":[1,2]})");
}

}  // namespace
}  // namespace herald::node
