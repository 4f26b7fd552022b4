#include "daemon/daemon_log.h"

#include <unistd.h>

#include <cstdio>
#include <mutex>

#include "python/log.h"

namespace pyhost {

std::string JsonEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);  // UTF-8 passes through
        }
    }
  }
  return out;
}

namespace {
std::mutex g_log_mu;

void DaemonLogSink(LogLevel level, const std::string& group, const std::string& line, void*) {
  std::string rec = "{\"level\":" + std::to_string(static_cast<int>(level)) + ",\"group\":\"" + JsonEscape(group) +
                    "\",\"message\":\"" + JsonEscape(line) + "\"}\n";
  std::lock_guard<std::mutex> lock(g_log_mu);
  size_t off = 0;
  while (off < rec.size()) {
    ssize_t n = ::write(2, rec.data() + off, rec.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}
}  // namespace

void InstallDaemonLogSink() { SetLogSink(&DaemonLogSink); }

}  // namespace pyhost
