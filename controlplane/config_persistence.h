#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace herald::control {

/**
 * Where ConfigStoreImpl keeps its state besides memory: the data dir's state.json (one control
 * plane) or Redis (shared by every replica, with compare-and-set on the version so that two
 * replicas changing the config at once cannot lose a change).
 */
class ConfigPersistence {
 public:
  virtual ~ConfigPersistence() = default;
  // The stored state (JSON), or "" when nothing is stored yet.
  virtual Result<std::string> load() = 0;
  // Stores `text` as version `version` if the stored version is still `previous` (0: none);
  // kConflict when another writer got there first.
  virtual Status store(uint64_t previous, uint64_t version, const std::string& text) = 0;
  // The stored version (0 when none); polled by replicas to notice changes made elsewhere.
  virtual Result<uint64_t> storedVersion() = 0;
  // For messages: "state file herald-data/state.json", "redis redis://...".
  virtual std::string describe() const = 0;
};

using ConfigPersistencePtr = std::unique_ptr<ConfigPersistence>;

// `<data_dir>/state.json`, written to a temporary file, fsynced and renamed. Creates the dir.
ConfigPersistencePtr makeFilePersistence(const std::string& data_dir);

}  // namespace herald::control
