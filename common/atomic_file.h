#pragma once

#include <string>

#include "common/status.h"

namespace herald {

// Writes `contents` to `path` through a temporary file, fsync and rename, so readers see the
// old file or the new one, never half of one. Mode 0600: state files may hold secrets.
Status writeFileAtomically(const std::string& path, const std::string& contents);

}  // namespace herald
