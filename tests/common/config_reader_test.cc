#include "common/config_reader.h"

#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "common/host_port.h"

namespace herald {
namespace {

using nlohmann::json;

std::string errorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigReaderTest, ReadsTypedValues) {
  json doc = json::parse(R"({"s":"x","b":true,"n":7,"l":["a","b"],"o":{"k":1}})");
  ConfigReader r(doc, "f");
  std::string s;
  bool b = false;
  uint32_t n = 0;
  std::vector<std::string> l;
  r.readString("s", &s);
  r.readBool("b", &b);
  r.readUint32("n", &n);
  r.readStringList("l", &l);
  EXPECT_EQ(s, "x");
  EXPECT_TRUE(b);
  EXPECT_EQ(n, 7u);
  EXPECT_EQ(l, (std::vector<std::string>{"a", "b"}));
  uint32_t k = 0;
  r.child("o").readUint32("k", &k);
  EXPECT_EQ(k, 1u);
}

TEST(ConfigReaderTest, MissingKeysLeaveDefaults) {
  json doc = json::object();
  ConfigReader r(doc, "f");
  uint32_t n = 42;
  r.readUint32("n", &n);
  EXPECT_EQ(n, 42u);
}

TEST(ConfigReaderTest, ErrorsNameThePathAndTheProblem) {
  json doc = json::parse(R"({"n":"7","neg":-1,"big":5,"o":{"x":1},"t":1})");
  ConfigReader r(doc, "conf.json");
  uint32_t n = 0;
  EXPECT_EQ(errorOf([&] { r.readUint32("n", &n); }), "conf.json.n: expected an unsigned integer");
  EXPECT_EQ(errorOf([&] { r.readUint32("neg", &n); }),
            "conf.json.neg: expected an unsigned integer");
  EXPECT_EQ(errorOf([&] { r.readUint32("big", &n, 0, 3); }),
            "conf.json.big: 5 is out of range [0, 3]");
  EXPECT_NE(errorOf([&] { r.child("o").rejectUnknownKeys({"y"}); }).find("conf.json.o.x: unknown"),
            std::string::npos);
  EXPECT_EQ(errorOf([&] { r.child("t"); }), "conf.json.t: expected an object");
}

TEST(ConfigReaderTest, LoadFileReportsMissingAndInvalidFiles) {
  EXPECT_NE(errorOf([] { ConfigReader::loadFile("/nonexistent/herald.json"); }).find("cannot open"),
            std::string::npos);
  const std::string path = ::testing::TempDir() + "/bad-config.json";
  std::ofstream(path) << "{\"a\": ";
  EXPECT_NE(errorOf([&] { ConfigReader::loadFile(path); }).find("not valid JSON"),
            std::string::npos);
  std::remove(path.c_str());
}

TEST(HostPortTest, ParsesAndRejects) {
  auto hp = parseHostPort("127.0.0.1:7070");
  ASSERT_TRUE(hp.isOk());
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 7070);
  auto v6 = parseHostPort("[::1]:0");
  ASSERT_TRUE(v6.isOk());
  EXPECT_EQ(v6->host, "::1");
  for (const char* bad : {"", "7070", ":7070", "host:", "host:70000", "host:12a", "host:-1"}) {
    EXPECT_FALSE(parseHostPort(bad).isOk()) << bad;
  }
}

}  // namespace
}  // namespace herald
