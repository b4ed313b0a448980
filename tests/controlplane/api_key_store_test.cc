#include "controlplane/api_key_store_impl.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace herald::control {
namespace {

class ApiKeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/herald-keys-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

TEST_F(ApiKeyStoreTest, CreatedKeysResolveToTheirRoleAndSurviveRestart) {
  std::string secret;
  {
    ApiKeyStoreImpl store(dir_);
    auto created = store.create("ci", herald::v1::API_KEY_ROLE_PUBLISHER);
    ASSERT_TRUE(created.isOk());
    secret = created->secret;
    EXPECT_EQ(secret.rfind("hk_", 0), 0u);
    EXPECT_EQ(store.roleOf(secret), herald::v1::API_KEY_ROLE_PUBLISHER);
    EXPECT_FALSE(store.roleOf(secret + "x").has_value());
    EXPECT_FALSE(store.roleOf("").has_value());
  }
  ApiKeyStoreImpl reopened(dir_);
  EXPECT_EQ(reopened.roleOf(secret), herald::v1::API_KEY_ROLE_PUBLISHER);
  ASSERT_EQ(reopened.list().size(), 1u);
  EXPECT_EQ(reopened.list()[0].name(), "ci");
}

TEST_F(ApiKeyStoreTest, SecretsAreStoredHashedOnly) {
  ApiKeyStoreImpl store(dir_);
  auto created = store.create("x", herald::v1::API_KEY_ROLE_ADMIN);
  ASSERT_TRUE(created.isOk());
  std::ifstream in(dir_ + "/api_keys.json");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str().find(created->secret), std::string::npos);
  EXPECT_NE(text.str().find(sha256Hex(created->secret)), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/api_keys.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u) << "key file must not be readable by others";
}

TEST_F(ApiKeyStoreTest, RevokeImportAndValidation) {
  ApiKeyStoreImpl store(dir_);
  auto imported =
      store.import("ops", herald::v1::API_KEY_ROLE_ADMIN, "an-operator-chosen-key-of-32-bytes!");
  ASSERT_TRUE(imported.isOk());
  EXPECT_EQ(
      store.import("ops", herald::v1::API_KEY_ROLE_ADMIN, "an-operator-chosen-key-of-32-bytes!")
          .status()
          .code(),
      ErrorCode::kAlreadyExists);
  EXPECT_EQ(store.import("short", herald::v1::API_KEY_ROLE_ADMIN, "short").status().code(),
            ErrorCode::kBadRequest);
  EXPECT_EQ(store.create("bad", herald::v1::API_KEY_ROLE_UNSPECIFIED).status().code(),
            ErrorCode::kBadRequest);
  ASSERT_TRUE(store.revoke(imported->id()).isOk());
  EXPECT_FALSE(store.roleOf("an-operator-chosen-key-of-32-bytes!").has_value());
  EXPECT_EQ(store.revoke(imported->id()).code(), ErrorCode::kNotFound);
}

TEST_F(ApiKeyStoreTest, CorruptFileStopsStartUp) {
  std::ofstream(dir_ + "/api_keys.json") << "[{\"id\": 1";
  EXPECT_THROW(ApiKeyStoreImpl store(dir_), std::runtime_error);
}

}  // namespace
}  // namespace herald::control
