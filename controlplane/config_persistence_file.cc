#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/atomic_file.h"
#include "controlplane/config_persistence.h"

namespace herald::control {
namespace {

class FilePersistence : public ConfigPersistence {
 public:
  explicit FilePersistence(const std::string& data_dir) : file_(data_dir + "/state.json") {
    if (::mkdir(data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      throw std::runtime_error("data dir " + data_dir + ": " + std::strerror(errno));
    }
  }

  Result<std::string> load() override {
    struct stat st {};
    if (::stat(file_.c_str(), &st) != 0) {
      return std::string();
    }
    std::ifstream in(file_);
    if (!in) {
      return Status(ErrorCode::kInternal,
                    "state file " + file_ + " exists but cannot be read: " + std::strerror(errno) +
                        " (Herald will not start empty over it)");
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }

  // One writer (this process): `previous` needs no check.
  Status store(uint64_t, uint64_t, const std::string& text) override {
    return writeFileAtomically(file_, text);
  }

  Result<uint64_t> storedVersion() override { return uint64_t{0}; }

  std::string describe() const override { return "state file " + file_; }

 private:
  const std::string file_;
};

}  // namespace

ConfigPersistencePtr makeFilePersistence(const std::string& data_dir) {
  return std::make_unique<FilePersistence>(data_dir);
}

}  // namespace herald::control
