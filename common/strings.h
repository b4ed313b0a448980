#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace herald {

// Splits "a,b,,c" into {"a", "b", "c"}: empty items are dropped.
std::vector<std::string> splitNonEmpty(std::string_view text, char separator);

}  // namespace herald
