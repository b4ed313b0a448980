#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace herald {

// Reads one JSON object of a config file with precise, path-qualified errors
// ("config.json: limits.max_connections_per_node: expected an unsigned integer").
// Used at start-up only: every error throws ConfigError.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses a command-line number (digits only, at most 9) for `flag`; throws ConfigError.
uint32_t parseFlagUint(const std::string& flag, const std::string& text);

class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& object, std::string path);

  // Parses a whole file; throws ConfigError naming the file and the JSON error position.
  static nlohmann::json loadFile(const std::string& file);

  // Throws if the object has a key outside `known` (typos must not pass silently).
  void rejectUnknownKeys(std::initializer_list<const char*> known) const;

  bool has(const char* key) const;
  void readString(const char* key, std::string* out) const;
  void readBool(const char* key, bool* out) const;
  void readUint32(const char* key, uint32_t* out, uint32_t min = 0,
                  uint32_t max = UINT32_MAX) const;
  void readStringList(const char* key, std::vector<std::string>* out) const;
  ConfigReader child(const char* key) const;                   // key must hold an object
  std::vector<ConfigReader> childList(const char* key) const;  // key must hold objects
  std::string where(const char* key) const;

 private:
  const nlohmann::json& object_;
  std::string path_;
};

}  // namespace herald
