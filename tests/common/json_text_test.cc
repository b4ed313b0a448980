#include "common/json_text.h"

#include <string>

#include <gtest/gtest.h>

namespace herald {
namespace {

TEST(JsonTextTest, NestingDepthCountsArraysAndObjectsOutsideStrings) {
  EXPECT_EQ(jsonNestingDepth("1"), 0u);
  EXPECT_EQ(jsonNestingDepth("[]"), 1u);
  EXPECT_EQ(jsonNestingDepth(R"({"a":[{"b":[]}],"c":{}})"), 4u);
  EXPECT_EQ(jsonNestingDepth(R"(["[[[[", "\"[[[", {}])"), 2u);
  EXPECT_EQ(jsonNestingDepth("]]]][["), 2u);  // not JSON: still bounded and sensible
}

TEST(JsonTextTest, NestingDepthStopsPastTheLimit) {
  const std::string deep(1000000, '[');
  EXPECT_EQ(jsonNestingDepth(deep, 64), 65u);
  EXPECT_EQ(jsonNestingDepth(deep, 10), 11u);
}

TEST(JsonTextTest, AcceptJsonChecksSyntaxAndDepth) {
  EXPECT_TRUE(acceptJson(R"({"a":[1,2,{"b":null}]})"));
  EXPECT_FALSE(acceptJson(R"({"a":)"));
  EXPECT_FALSE(acceptJson("{\"a\":\"\xff\"}"));  // invalid UTF-8 in a string
  EXPECT_TRUE(acceptJson(std::string(64, '[') + std::string(64, ']')));
  EXPECT_FALSE(acceptJson(std::string(65, '[') + std::string(65, ']')));
  EXPECT_TRUE(acceptJson(std::string(3, '[') + std::string(3, ']'), 3));
  EXPECT_FALSE(acceptJson(std::string(4, '[') + std::string(4, ']'), 3));
}

TEST(JsonTextTest, FindMembersReturnsRawValues) {
  const std::string_view names[] = {"type", "data", "missing"};
  std::string_view values[3];
  ASSERT_TRUE(findMembers(R"( { "data" : [1, "]}\"" ,{}] , "type":"x" } )", names, 3, values));
  EXPECT_EQ(values[0], R"("x")");
  EXPECT_EQ(values[1], R"([1, "]}\"" ,{}])");
  EXPECT_TRUE(values[2].empty());
  ASSERT_TRUE(findMembers(R"({"type":1,"type":true,"data":-2.5e3})", names, 3, values));
  EXPECT_EQ(values[0], "true");
  EXPECT_EQ(values[1], "-2.5e3");
  ASSERT_TRUE(findMembers(R"({"\u0074ype":null})", names, 3, values));
  EXPECT_EQ(values[0], "null");
  EXPECT_FALSE(findMembers("[1]", names, 3, values));
  EXPECT_TRUE(findMembers("{}", names, 3, values));
  EXPECT_TRUE(values[0].empty());
}

TEST(JsonTextTest, ArrayElementsReturnsRawElements) {
  std::vector<std::string_view> elements;
  ASSERT_TRUE(
      arrayElements(R"( [ {"a":"],"} , 123456789012345678901234567890,"x" ,[[]] ] )", &elements));
  ASSERT_EQ(elements.size(), 4u);
  EXPECT_EQ(elements[0], R"({"a":"],"})");
  EXPECT_EQ(elements[1], "123456789012345678901234567890");
  EXPECT_EQ(elements[2], R"("x")");
  EXPECT_EQ(elements[3], "[[]]");
  ASSERT_TRUE(arrayElements("[]", &elements));
  EXPECT_TRUE(elements.empty());
  EXPECT_FALSE(arrayElements(R"({"a":1})", &elements));
}

}  // namespace
}  // namespace herald
