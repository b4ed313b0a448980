#include "common/flag_parser.h"

#include <cstdio>
#include <cstdlib>

#include "common/config_reader.h"

namespace herald {

void FlagParser::addString(const char* flag, std::string* out) {
  setters_[flag] = [out](const std::string&, const std::string& value) { *out = value; };
}

void FlagParser::addUint(const char* flag, uint32_t* out) {
  setters_[flag] = [out](const std::string& name, const std::string& value) {
    *out = parseFlagUint(name, value);
  };
}

void FlagParser::addSwitch(const char* flag, bool* out) { switches_[flag] = out; }

void FlagParser::parse(int argc, char** argv,
                       const std::function<void(const std::string&)>& load_config) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(usage_, stdout);
      std::exit(0);
    }
  }
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--config") {
      load_config(argv[i + 1]);
    }
  }
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const bool config = flag == "--config";
    if (auto sw = switches_.find(flag); sw != switches_.end()) {
      *sw->second = true;
      continue;
    }
    auto it = setters_.find(flag);
    if (!config && it == setters_.end()) {
      throw ConfigError(flag + ": unknown flag (see --help)");
    }
    if (i + 1 >= argc) {
      throw ConfigError(flag + ": missing value (see --help)");
    }
    const std::string value = argv[++i];
    if (!config) {
      it->second(flag, value);
    }
  }
}

}  // namespace herald
