#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace herald {

/**
 * The daemons' command lines: `--flag value` pairs bound to config fields, `--config FILE`
 * applied before every other flag (so flags override the file wherever they appear), and
 * `--help`. Start-up only: errors throw ConfigError.
 */
class FlagParser {
 public:
  explicit FlagParser(const char* usage) : usage_(usage) {}

  void addString(const char* flag, std::string* out);
  void addUint(const char* flag, uint32_t* out);
  // A flag without a value: present sets `*out` to true.
  void addSwitch(const char* flag, bool* out);

  // Prints the usage and exits 0 on --help / -h.
  void parse(int argc, char** argv, const std::function<void(const std::string&)>& load_config);

 private:
  const char* usage_;
  std::map<std::string, std::function<void(const std::string& flag, const std::string& value)>>
      setters_;
  std::map<std::string, bool*> switches_;
};

}  // namespace herald
