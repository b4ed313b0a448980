#include "common/config_reader.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace herald {

uint32_t parseFlagUint(const std::string& flag, const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
      text.size() > 9) {
    throw ConfigError(flag + ": expected a positive integer, got '" + text + "'");
  }
  return static_cast<uint32_t>(std::strtoul(text.c_str(), nullptr, 10));
}

ConfigReader::ConfigReader(const nlohmann::json& object, std::string path)
    : object_(object), path_(std::move(path)) {
  if (!object_.is_object()) {
    throw ConfigError(path_ + ": expected a JSON object");
  }
}

nlohmann::json ConfigReader::loadFile(const std::string& file) {
  std::ifstream in(file);
  if (!in) {
    throw ConfigError(file + ": cannot open config file");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return nlohmann::json::parse(buffer.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw ConfigError(file + ": not valid JSON: " + e.what());
  }
}

std::string ConfigReader::where(const char* key) const {
  return path_.empty() ? std::string(key) : path_ + "." + key;
}

void ConfigReader::rejectUnknownKeys(std::initializer_list<const char*> known) const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    bool found = false;
    for (const char* k : known) {
      if (it.key() == k) {
        found = true;
        break;
      }
    }
    if (!found) {
      std::string list;
      for (const char* k : known) {
        list += list.empty() ? k : std::string(", ") + k;
      }
      throw ConfigError(where(it.key().c_str()) + ": unknown setting (known: " + list + ")");
    }
  }
}

bool ConfigReader::has(const char* key) const { return object_.contains(key); }

void ConfigReader::readString(const char* key, std::string* out) const {
  if (!has(key)) {
    return;
  }
  const auto& v = object_.at(key);
  if (!v.is_string()) {
    throw ConfigError(where(key) + ": expected a string");
  }
  *out = v.get<std::string>();
}

void ConfigReader::readBool(const char* key, bool* out) const {
  if (!has(key)) {
    return;
  }
  const auto& v = object_.at(key);
  if (!v.is_boolean()) {
    throw ConfigError(where(key) + ": expected true or false");
  }
  *out = v.get<bool>();
}

void ConfigReader::readUint32(const char* key, uint32_t* out, uint32_t min, uint32_t max) const {
  if (!has(key)) {
    return;
  }
  const auto& v = object_.at(key);
  if (!v.is_number_unsigned()) {
    throw ConfigError(where(key) + ": expected an unsigned integer");
  }
  const auto value = v.get<uint64_t>();
  if (value < min || value > max) {
    throw ConfigError(where(key) + ": " + std::to_string(value) + " is out of range [" +
                      std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  *out = static_cast<uint32_t>(value);
}

void ConfigReader::readStringList(const char* key, std::vector<std::string>* out) const {
  if (!has(key)) {
    return;
  }
  const auto& v = object_.at(key);
  if (!v.is_array()) {
    throw ConfigError(where(key) + ": expected an array of strings");
  }
  out->clear();
  for (const auto& item : v) {
    if (!item.is_string()) {
      throw ConfigError(where(key) + ": expected an array of strings");
    }
    out->push_back(item.get<std::string>());
  }
}

ConfigReader ConfigReader::child(const char* key) const {
  const auto& v = object_.at(key);
  if (!v.is_object()) {
    throw ConfigError(where(key) + ": expected an object");
  }
  return ConfigReader(v, where(key));
}

std::vector<ConfigReader> ConfigReader::childList(const char* key) const {
  std::vector<ConfigReader> out;
  if (!has(key)) {
    return out;
  }
  const auto& v = object_.at(key);
  if (!v.is_array()) {
    throw ConfigError(where(key) + ": expected an array of objects");
  }
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string item_path = where(key) + "[" + std::to_string(i) + "]";
    if (!v[i].is_object()) {
      throw ConfigError(item_path + ": expected an object");
    }
    out.emplace_back(v[i], item_path);
  }
  return out;
}

}  // namespace herald
