#include "common/logging.h"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace herald {
namespace {

std::string formatted(LogFormat format, const std::string& message) {
  auto formatter = makeLogFormatter(format);
  spdlog::details::log_msg msg(spdlog::source_loc{}, "control", spdlog::level::warn, message);
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  return std::string(out.data(), out.size());
}

// What a hostile node id or channel name tried: a second, forged line in the log.
const std::string kForgery =
    "refused node n1\n2026-12-05T04:00:00.000 info  [control] admin key rotated\x1b[2J";

TEST(LoggingTest, HumanLinesEscapeControlCharacters) {
  const std::string line = formatted(LogFormat::kHuman, kForgery);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line, ending the record: " << line;
  EXPECT_EQ(line.find('\x1b'), std::string::npos);
  EXPECT_NE(line.find("n1\\n2026-12-05"), std::string::npos) << line;
  EXPECT_NE(line.find("\\x1b[2J"), std::string::npos) << line;
  EXPECT_NE(line.find("[control]"), std::string::npos);
}

TEST(LoggingTest, JsonLinesStayValidJsonWhateverTheMessage) {
  for (const std::string& message :
       {kForgery, std::string("bad utf-8 \xff\xfe and del \x7f"), std::string("quote \" \\")}) {
    const std::string line = formatted(LogFormat::kJson, message);
    EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
    auto doc = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << line;
    EXPECT_EQ(doc["component"], "control");
    EXPECT_EQ(doc["level"], "warning");
  }
  auto doc = nlohmann::json::parse(formatted(LogFormat::kJson, kForgery));
  EXPECT_EQ(doc["msg"], kForgery) << "JSON escapes keep the message exact";
}

}  // namespace
}  // namespace herald
