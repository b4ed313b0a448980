#include "controlplane/config_store_impl.h"

#include "common/clock.h"
#include "controlplane/session_bans.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace herald::control {
namespace {

class ConfigStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/herald-store-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::unique_ptr<ConfigStoreImpl> open(std::vector<herald::v1::Namespace> initial = {}) {
    return std::make_unique<ConfigStoreImpl>(dir_, initial, herald::v1::Limits(),
                                             herald::v1::AuthSettings(), 1000);
  }

  static herald::v1::Namespace ns(const std::string& name, herald::v1::SubscribeRule rule) {
    herald::v1::Namespace n;
    n.set_name(name);
    n.set_subscribe_rule(rule);
    return n;
  }

  std::string dir_;
};

TEST_F(ConfigStoreTest, FirstStartWritesInitialStateAtVersionOne) {
  auto store = open({ns("token", herald::v1::SUBSCRIBE_RULE_PUBLIC)});
  EXPECT_EQ(store->version(), 1u);
  EXPECT_EQ(store->listNamespaces().size(), 1u);
  struct stat st {};
  EXPECT_EQ(::stat((dir_ + "/state.json").c_str(), &st), 0);
  EXPECT_NE(::stat((dir_ + "/state.json.tmp").c_str(), &st), 0) << "temp file left behind";
}

TEST_F(ConfigStoreTest, ChangesBumpVersionNotifyAndSurviveRestart) {
  {
    auto store = open();
    ConfigSnapshotPtr announced;
    store->setChangeListener([&](const ConfigSnapshotPtr& s) { announced = s; });
    ASSERT_TRUE(store->createNamespace(ns("token", herald::v1::SUBSCRIBE_RULE_PUBLIC)).isOk());
    ASSERT_TRUE(store->createNamespace(ns("balance", herald::v1::SUBSCRIBE_RULE_OWNER)).isOk());
    herald::v1::Limits limits;
    limits.set_max_subscriptions_per_connection(7);
    auto set = store->setLimits(limits);
    ASSERT_TRUE(set.isOk());
    EXPECT_EQ(set->max_subscriptions_per_connection(), 7u);
    EXPECT_EQ(set->max_connections_per_node(), 10000u) << "zero fields take defaults";
    EXPECT_EQ(store->version(), 4u);
    ASSERT_TRUE(announced);
    EXPECT_EQ(announced->version(), 4u);
    EXPECT_EQ(announced->namespaces_size(), 2);
    EXPECT_EQ(announced->limits().max_subscriptions_per_connection(), 7u);
  }
  auto reopened = open({ns("ignored", herald::v1::SUBSCRIBE_RULE_PUBLIC)});
  EXPECT_EQ(reopened->version(), 4u);
  auto balance = reopened->getNamespace("balance");
  ASSERT_TRUE(balance.isOk());
  EXPECT_EQ(balance->subscribe_rule(), herald::v1::SUBSCRIBE_RULE_OWNER);
  EXPECT_FALSE(reopened->getNamespace("ignored").isOk()) << "initial config applies once only";
  EXPECT_EQ(reopened->limits().max_subscriptions_per_connection(), 7u);
}

TEST_F(ConfigStoreTest, ConcurrentChangesAreAnnouncedInVersionOrder) {
  auto store = open();
  std::mutex mu;
  std::vector<uint64_t> announced;
  store->setChangeListener([&](const ConfigSnapshotPtr& s) {
    std::lock_guard<std::mutex> lock(mu);
    announced.push_back(s->version());
  });
  std::vector<std::thread> admins;
  for (int t = 0; t < 4; ++t) {
    admins.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        herald::v1::Namespace n;
        n.set_name("ns-" + std::to_string(t) + "-" + std::to_string(i));
        ASSERT_TRUE(store->createNamespace(n).isOk());
      }
    });
  }
  for (auto& a : admins) {
    a.join();
  }
  ASSERT_FALSE(announced.empty());
  for (size_t i = 1; i < announced.size(); ++i) {
    ASSERT_LT(announced[i - 1], announced[i]) << "a node would apply an older config last";
  }
  EXPECT_EQ(announced.back(), store->version()) << "the newest version is always announced";
}

TEST_F(ConfigStoreTest, ErrorsHaveStableCodes) {
  auto store = open();
  ASSERT_TRUE(store->createNamespace(ns("a", herald::v1::SUBSCRIBE_RULE_PUBLIC)).isOk());
  EXPECT_EQ(store->createNamespace(ns("a", herald::v1::SUBSCRIBE_RULE_PUBLIC)).status().code(),
            ErrorCode::kAlreadyExists);
  EXPECT_EQ(store->updateNamespace(ns("b", herald::v1::SUBSCRIBE_RULE_PUBLIC)).status().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(store->deleteNamespace("b").code(), ErrorCode::kNotFound);
  EXPECT_EQ(
      store->createNamespace(ns("Bad Name", herald::v1::SUBSCRIBE_RULE_PUBLIC)).status().code(),
      ErrorCode::kBadRequest);
  auto with_claim = ns("c", herald::v1::SUBSCRIBE_RULE_PUBLIC);
  with_claim.set_owner_claim("address");
  EXPECT_EQ(store->createNamespace(with_claim).status().code(), ErrorCode::kBadRequest);
  EXPECT_EQ(store->version(), 2u) << "failed changes must not bump the version";
}

TEST_F(ConfigStoreTest, BansAreInTheSnapshotSurviveRestartAndExpire) {
  const int64_t now = unixSeconds();
  {
    auto store = open();
    ASSERT_TRUE(store->blockUser("mallory", now + 600).isOk());
    auto version = store->revokeToken("jti-1", now + 600);
    ASSERT_TRUE(version.isOk());
    EXPECT_EQ(version.value(), store->version());
    ASSERT_TRUE(store->revokeToken("jti-2", now + 60).isOk());
    const auto& bans = store->snapshot()->bans();
    ASSERT_EQ(bans.users_size(), 1);
    EXPECT_EQ(bans.users(0).user(), "mallory");
    EXPECT_EQ(bans.tokens_size(), 2);
  }
  auto reopened = open();
  const auto bans = reopened->snapshot()->bans();
  ASSERT_EQ(bans.users_size(), 1) << "kept with the config";
  EXPECT_EQ(bans.users(0).until(), now + 600);
  ASSERT_EQ(bans.tokens_size(), 2);
}

TEST(SessionBansTest, AddingMovesToTheLaterTimeAndTheBoundHolds) {
  herald::v1::SessionBans bans;
  ASSERT_TRUE(addUserBlock(&bans, "a", 200, 100, 2).isOk());
  ASSERT_TRUE(addUserBlock(&bans, "a", 150, 100, 2).isOk());
  ASSERT_EQ(bans.users_size(), 1);
  EXPECT_EQ(bans.users(0).until(), 200) << "an earlier time never shortens a block";
  ASSERT_TRUE(addUserBlock(&bans, "b", 300, 100, 2).isOk());
  Status full = addUserBlock(&bans, "c", 300, 100, 2);
  EXPECT_EQ(full.code(), ErrorCode::kLimitExceeded);
  EXPECT_EQ(full.message(), "2 user blocks are in force already; wait for some to end");
  // At 250, a's block has ended: its place is free.
  ASSERT_TRUE(addUserBlock(&bans, "c", 300, 250, 2).isOk());
  ASSERT_TRUE(addTokenRevocation(&bans, "t", 400, 250, 2).isOk());
  pruneSessionBans(&bans, 350);
  EXPECT_EQ(bans.users_size(), 0);
  EXPECT_EQ(bans.tokens_size(), 1);
}

TEST_F(ConfigStoreTest, CorruptStateFileStopsStartUp) {
  { open(); }
  std::ofstream(dir_ + "/state.json") << "{\"version\": 3, \"namespaces\": [";
  try {
    open();
    FAIL() << "a corrupt state file must not start empty";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt state file"), std::string::npos) << e.what();
  }
}

TEST_F(ConfigStoreTest, StateWithInvalidNamespaceIsCorrupt) {
  std::ofstream(dir_ + "/state.json")
      << R"({"version": 2, "namespaces": [{"name": "BAD"}], "limits": {}})";
  EXPECT_THROW(open(), std::runtime_error);
}

}  // namespace
}  // namespace herald::control
