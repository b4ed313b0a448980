#pragma once
// Users refused until a time and tokens revoked until their expiry (ControlService.Disconnect
// with block_until, RevokeToken): kept in the config's SessionBans, bounded, pruned.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "herald/v1/control.pb.h"

namespace herald::control {

// Drops the entries whose time has passed at `now` (Unix seconds).
void pruneSessionBans(herald::v1::SessionBans* bans, int64_t now);

// Adds or moves (to the later time) a user's block / a token's revocation. kLimitExceeded
// when `max` unexpired entries of that kind are held already.
Status addUserBlock(herald::v1::SessionBans* bans, const std::string& user, int64_t until,
                    int64_t now, size_t max);
Status addTokenRevocation(herald::v1::SessionBans* bans, const std::string& jti, int64_t until,
                          int64_t now, size_t max);

}  // namespace herald::control
