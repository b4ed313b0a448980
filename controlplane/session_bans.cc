#include "controlplane/session_bans.h"

#include <algorithm>

namespace herald::control {

namespace {

template <typename Entries>
void prune(Entries* entries, int64_t now) {
  entries->erase(std::remove_if(entries->begin(), entries->end(),
                                [now](const auto& e) { return e.until() <= now; }),
                 entries->end());
}

// Finds the entry `key` names (by `key_of`) and moves it to the later time, or adds one.
template <typename Entries, typename KeyOf, typename Set>
Status add(Entries* entries, const std::string& key, int64_t until, int64_t now, size_t max,
           const KeyOf& key_of, const Set& set_key, const char* what) {
  prune(entries, now);
  for (auto& e : *entries) {
    if (key_of(e) == key) {
      e.set_until(std::max(e.until(), until));
      return Status::ok();
    }
  }
  if (static_cast<size_t>(entries->size()) >= max) {
    return Status(ErrorCode::kLimitExceeded,
                  std::to_string(max) + " " + what + " are in force already; wait for some to end");
  }
  auto* e = entries->Add();
  set_key(e, key);
  e->set_until(until);
  return Status::ok();
}

}  // namespace

void pruneSessionBans(herald::v1::SessionBans* bans, int64_t now) {
  prune(bans->mutable_users(), now);
  prune(bans->mutable_tokens(), now);
}

Status addUserBlock(herald::v1::SessionBans* bans, const std::string& user, int64_t until,
                    int64_t now, size_t max) {
  return add(
      bans->mutable_users(), user, until, now, max,
      [](const herald::v1::UserBlock& b) -> const std::string& { return b.user(); },
      [](herald::v1::UserBlock* b, const std::string& key) { b->set_user(key); }, "user blocks");
}

Status addTokenRevocation(herald::v1::SessionBans* bans, const std::string& jti, int64_t until,
                          int64_t now, size_t max) {
  return add(
      bans->mutable_tokens(), jti, until, now, max,
      [](const herald::v1::RevokedToken& t) -> const std::string& { return t.jti(); },
      [](herald::v1::RevokedToken* t, const std::string& key) { t->set_jti(key); },
      "token revocations");
}

}  // namespace herald::control
