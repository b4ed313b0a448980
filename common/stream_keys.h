#pragma once
// How streams are named and versioned, for the control plane's engines and the node's resync
// alike: one definition, so a personal stream's key and an epoch mean the same everywhere.
#include <string>

namespace herald {

// A user's personal stream. Channel names never start with '#', so the keys cannot collide.
inline std::string userStreamKey(const std::string& user) { return "#" + user; }
inline bool isUserStreamKey(const std::string& key) { return !key.empty() && key[0] == '#'; }

// A fresh epoch: 16 random hex digits. A stream gets one when it starts (or starts over after
// its state was lost), so that a client's position from before tells the node it is stale.
std::string newRandomEpoch();

}  // namespace herald
