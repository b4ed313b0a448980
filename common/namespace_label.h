#pragma once
// How the stats (ClusterStats windows, /metrics) name a publication's namespace: a configured
// namespace by its name, anything else by one of these, so invented namespaces add no series.
#include <string_view>

namespace herald {

inline constexpr std::string_view kDefaultNamespaceLabel = "(default)";  // not configured
inline constexpr std::string_view kUserStreamsLabel = "(user)";          // personal messages
inline constexpr std::string_view kEveryoneLabel = "(all)";              // broadcasts to all

}  // namespace herald
