#pragma once

#include <cstdint>
#include <string>

namespace herald::bench {

// Signs HS256 JWTs for bench clients: {"sub": SUBJECT, "exp": now + ttl}, with `kid` in the
// header when set. Only what a load generator needs; servers verify with a real library.
std::string signHs256(const std::string& secret, const std::string& kid, const std::string& subject,
                      int64_t ttl_seconds);

}  // namespace herald::bench
