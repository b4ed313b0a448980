#include "common/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace herald {
namespace {

Status failed(const std::string& what, const std::string& tmp, int fd) {
  const std::string err = std::strerror(errno);
  if (fd >= 0) {
    ::close(fd);
  }
  ::unlink(tmp.c_str());
  return Status(ErrorCode::kInternal, what + " " + tmp + ": " + err);
}

std::string directoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Status writeFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  // A leftover temporary file (a crash mid-write) would keep its own mode through O_TRUNC:
  // remove it so the file is created 0600.
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return failed("cannot write", tmp, -1);
  }
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return failed("cannot write", tmp, fd);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    return failed("cannot sync", tmp, fd);
  }
  if (::close(fd) != 0) {
    return failed("cannot sync", tmp, -1);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return failed("cannot rename", tmp, -1);
  }
  // The rename itself survives a crash once the directory is synced.
  if (const int dir = ::open(directoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::ok();
}

}  // namespace herald
