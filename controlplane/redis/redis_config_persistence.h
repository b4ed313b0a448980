#pragma once

#include <chrono>

#include "controlplane/config_persistence.h"
#include "controlplane/redis/redis_client.h"

namespace herald::control {

// The config in Redis (keys herald:config:state and herald:config:version), shared by every
// replica; store() is a compare-and-set on the version (a Lua script).
ConfigPersistencePtr makeRedisPersistence(const RedisAddress& address,
                                          std::chrono::milliseconds timeout);

}  // namespace herald::control
