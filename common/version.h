#pragma once

namespace herald {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace herald
