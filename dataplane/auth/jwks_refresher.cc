#include "dataplane/auth/jwks_refresher.h"

#include <openssl/err.h>

#include <functional>

#include "common/hook_http_client.h"
#include "common/hook_settings.h"
#include "common/jwks.h"
#include "common/logging.h"

namespace herald::node {

namespace {

bool sameKeys(const std::vector<JwtKeySpec>& a, const std::vector<JwtKeySpec>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].kid != b[i].kid || a[i].algorithm != b[i].algorithm ||
        a[i].material != b[i].material) {
      return false;
    }
  }
  return true;
}

}  // namespace

void JwksRefresher::configure(const std::string& url, uint32_t refresh_seconds) {
  bool dropped = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    every_ = std::chrono::seconds(refresh_seconds == 0 ? 300 : refresh_seconds);
    if (url != url_) {
      url_ = url;
      changed_ = true;
      dropped = !keys_.empty();
      keys_.clear();
      if (!url.empty() && !thread_.joinable() && !stopping_) {
        thread_ = std::thread([this] { run(); });
      }
    }
  }
  wake_.notify_all();
  if (dropped) {
    on_change_();
  }
}

void JwksRefresher::unknownKid() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (url_.empty() || asked_) {
      return;
    }
    asked_ = true;
  }
  wake_.notify_all();
}

std::vector<JwtKeySpec> JwksRefresher::keysFor(const std::string& url) const {
  std::lock_guard<std::mutex> lock(mu_);
  return url == url_ ? keys_ : std::vector<JwtKeySpec>{};
}

std::string JwksRefresher::url() const {
  std::lock_guard<std::mutex> lock(mu_);
  return url_;
}

size_t JwksRefresher::keyCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_.size();
}

void JwksRefresher::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (fetching_ != nullptr) {
      fetching_->stop();  // a fetch under way ends now
    }
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

Result<std::vector<JwtKeySpec>> JwksRefresher::fetch(const std::string& url) {
  auto target = parseHookUrl(url);
  if (!target.isOk()) {
    return target.status();
  }
  auto client = makeHookHttpClient(target.value());
  client->set_keep_alive(false);
  client->set_connection_timeout(kTimeout);
  client->set_read_timeout(kTimeout);
  client->set_write_timeout(kTimeout);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      return Status(ErrorCode::kUnavailable, "stopping");
    }
    fetching_ = client.get();
  }
  ERR_clear_error();  // OpenSSL errors left on this thread would fail the TLS handshake
  const auto deadline = std::chrono::steady_clock::now() + kFetchDeadline;
  std::string body;
  bool too_large = false;
  bool too_slow = false;
  auto res = client->Get(target->path.empty() ? "/" : target->path, httplib::Headers{},
                         [&](const char* data, size_t n) {
                           if (body.size() + n > kMaxJwksBytes) {
                             too_large = true;
                             return false;
                           }
                           if (std::chrono::steady_clock::now() > deadline) {
                             too_slow = true;
                             return false;
                           }
                           body.append(data, n);
                           return true;
                         });
  {
    std::lock_guard<std::mutex> lock(mu_);
    fetching_ = nullptr;
  }
  if (too_large) {
    return Status(ErrorCode::kUnavailable, "the key set is larger than 1 MiB");
  }
  if (too_slow) {
    return Status(ErrorCode::kUnavailable, "the key set took longer than 15 s");
  }
  if (!res) {
    return Status(ErrorCode::kUnavailable, "no answer: " + httplib::to_string(res.error()));
  }
  if (res->status != 200) {
    return Status(ErrorCode::kUnavailable, "HTTP " + std::to_string(res->status));
  }
  auto parsed = parseJwks(body);
  ERR_clear_error();  // what a skipped key left behind
  if (!parsed.isOk()) {
    return parsed.status();
  }
  const size_t document = std::hash<std::string>{}(body);
  if (document != last_document_) {
    last_document_ = document;
    for (const auto& why : parsed->skipped) {
      componentLogger("auth")->warn("JWKS {}: {} (skipped)", url, why);
    }
  }
  return std::move(parsed->keys);
}

void JwksRefresher::run() {
  auto log = componentLogger("auth");
  std::chrono::steady_clock::time_point last_fetch{};
  bool failing = false;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    const bool due = changed_ || last_fetch == std::chrono::steady_clock::time_point{} ||
                     now - last_fetch >= every_ || (asked_ && now - last_fetch >= kMinInterval);
    if (!due || url_.empty()) {
      auto until = url_.empty() ? now + std::chrono::hours(1) : last_fetch + every_;
      if (asked_) {
        until = std::min(until, last_fetch + kMinInterval);
      }
      wake_.wait_until(lock, until);
      continue;
    }
    const std::string url = url_;
    changed_ = false;
    asked_ = false;
    lock.unlock();
    auto fetched = fetch(url);
    last_fetch = std::chrono::steady_clock::now();
    lock.lock();
    if (url != url_) {
      continue;  // configured elsewhere meanwhile: that one is fetched next
    }
    if (!fetched.isOk()) {
      fetches_failed_.fetch_add(1);
      if (!failing) {
        // Once per outage; the last good set (if any) stays in force.
        log->warn("JWKS {} could not be fetched: {}; keeping the {} key(s) held", url,
                  fetched.status().message(), keys_.size());
      }
      failing = true;
      continue;
    }
    fetches_ok_.fetch_add(1);
    if (failing) {
      log->info("JWKS {} fetched again", url);
    }
    failing = false;
    if (sameKeys(fetched.value(), keys_)) {
      continue;
    }
    keys_ = std::move(fetched.value());
    log->info("JWKS {}: {} key(s)", url, keys_.size());
    lock.unlock();
    on_change_();
    lock.lock();
  }
}

}  // namespace herald::node
