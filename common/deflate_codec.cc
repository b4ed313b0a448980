#include "common/deflate_codec.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

namespace herald {

namespace {

constexpr int kWindowBits = 15;  // the largest; negotiation declines a client asking for less
constexpr unsigned char kTail[4] = {0x00, 0x00, 0xff, 0xff};

class Compressor {
 public:
  explicit Compressor(int level) : level_(level) {
    ok_ = deflateInit2(&z_, level, Z_DEFLATED, -kWindowBits, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~Compressor() {
    if (ok_) {
      deflateEnd(&z_);
    }
  }
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  bool run(std::string_view in, int level, std::string* out) {
    if (!ok_ || deflateReset(&z_) != Z_OK) {
      return false;
    }
    if (level != level_) {
      if (deflateParams(&z_, level, Z_DEFAULT_STRATEGY) != Z_OK) {
        return false;
      }
      level_ = level;
    }
    const size_t start = out->size();
    // deflateBound covers the stream; a sync flush adds at most 5 bytes and an empty block.
    out->resize(start + deflateBound(&z_, in.size()) + 16);
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    size_t produced = 0;
    for (;;) {
      z_.next_out = reinterpret_cast<Bytef*>(out->data() + start + produced);
      z_.avail_out = static_cast<uInt>(out->size() - start - produced);
      const uInt before = z_.avail_out;
      const int rc = deflate(&z_, Z_SYNC_FLUSH);
      produced += before - z_.avail_out;
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        out->resize(start);
        return false;
      }
      if (z_.avail_in == 0 && z_.avail_out != 0) {
        break;  // all input taken and the flush completed
      }
      out->resize(out->size() + 1024);
    }
    if (produced < 4 || std::memcmp(out->data() + start + produced - 4, kTail, 4) != 0) {
      out->resize(start);
      return false;  // a sync flush always ends so
    }
    out->resize(start + produced - 4);
    return true;
  }

 private:
  z_stream z_{};
  int level_;
  bool ok_ = false;
};

class Decompressor {
 public:
  Decompressor() { ok_ = inflateInit2(&z_, -kWindowBits) == Z_OK; }
  ~Decompressor() {
    if (ok_) {
      inflateEnd(&z_);
    }
  }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  InflateResult run(std::string_view in, size_t limit, std::string* out) {
    if (!ok_ || inflateReset(&z_) != Z_OK) {
      return InflateResult::kCorrupt;
    }
    if (in.empty()) {
      return InflateResult::kOk;  // nothing compressed: an empty message
    }
    const size_t start = out->size();
    size_t produced = 0;
    const std::string_view parts[2] = {in, {reinterpret_cast<const char*>(kTail), 4}};
    InflateResult result = InflateResult::kOk;
    for (int i = 0; i < 2; ++i) {
      z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(parts[i].data()));
      z_.avail_in = static_cast<uInt>(parts[i].size());
      const Step step = drain(limit, start, &produced, out);
      if (step == Step::kError) {
        result = produced > limit ? InflateResult::kTooLarge : InflateResult::kCorrupt;
        break;
      }
      if (step == Step::kEnded) {
        break;  // a final block: what follows it (the tail we added) is not read
      }
      // With the tail, a whole message ends between blocks (zlib: data_type bit 7); one cut
      // inside a block is not a message.
      if (i == 1 && (z_.data_type & 128) == 0) {
        result = InflateResult::kCorrupt;
      }
    }
    out->resize(result == InflateResult::kOk ? start + produced : start);
    return result;
  }

 private:
  enum class Step { kMore, kEnded, kError };

  // Inflates the current input until it is all taken; kError with `produced` past the limit
  // when the output would outgrow it.
  Step drain(size_t limit, size_t start, size_t* produced, std::string* out) {
    for (;;) {
      // Room for one byte past the limit, so that reaching it is seen.
      const size_t room = std::min<size_t>(16384, limit + 1 - *produced);
      out->resize(start + *produced + room);
      z_.next_out = reinterpret_cast<Bytef*>(out->data() + start + *produced);
      z_.avail_out = static_cast<uInt>(room);
      const int rc = inflate(&z_, Z_SYNC_FLUSH);
      *produced += room - z_.avail_out;
      if (*produced > limit) {
        return Step::kError;
      }
      if (rc == Z_STREAM_END) {
        return Step::kEnded;
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return Step::kError;
      }
      if (z_.avail_out != 0) {
        // Output room left over: zlib has taken all it could. Input left too means it cannot
        // make progress with it (Z_BUF_ERROR), which a valid stream never does.
        return z_.avail_in == 0 ? Step::kMore : Step::kError;
      }
    }
  }

  z_stream z_{};
  bool ok_ = false;
};

}  // namespace

bool deflateMessage(std::string_view in, int level, std::string* out) {
  thread_local Compressor compressor(level);
  return compressor.run(in, level, out);
}

InflateResult inflateMessage(std::string_view in, size_t limit, std::string* out) {
  thread_local Decompressor decompressor;
  return decompressor.run(in, limit, out);
}

}  // namespace herald
