#pragma once

#include <string_view>

namespace herald {

// A file of web/ built into a binary (cmake/embed_files.cmake): herald-node's browser client
// and demo page, herald-control's dashboard.
struct WebAsset {
  std::string_view path;  // URL path, e.g. "/herald.js"
  std::string_view content_type;
  std::string_view body;
};

}  // namespace herald
