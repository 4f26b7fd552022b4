#include "http/access_log.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include <ctime>

#include "http/static_files.h"

namespace pyhost {
namespace {

// Quotes and backslashes are escaped, as Apache does inside "...".
void AppendEscaped(std::string* out, const std::string& s) {
  for (char c : s) {
    if (c == '"' || c == '\\') out->push_back('\\');
    out->push_back(c);
  }
}

void AppendHeader(std::string* out, const ParsedHead& head, const char* name) {
  std::string value;
  out->push_back('"');
  if (FindHeader(head.headers, name, &value)) AppendEscaped(out, value);
  else out->push_back('-');
  out->push_back('"');
}

}  // namespace

std::string CombinedLogLine(const std::string& remote_addr, const ParsedHead& head, int status, int64_t bytes) {
  time_t now = time(nullptr);
  struct tm tm;
  localtime_r(&now, &tm);
  char when[64];
  strftime(when, sizeof when, "[%d/%b/%Y:%H:%M:%S %z]", &tm);
  std::string line = remote_addr.empty() ? "-" : remote_addr;
  line.append(" - - ").append(when).append(" \"");
  AppendEscaped(&line, head.method + " " + head.url + " HTTP/1." + std::to_string(head.version_minor));
  line.append("\" ").append(std::to_string(status)).push_back(' ');
  line.append(bytes > 0 ? std::to_string(bytes) : "-").push_back(' ');
  AppendHeader(&line, head, "referer");
  line.push_back(' ');
  AppendHeader(&line, head, "user-agent");
  return line;
}

void WriteLogLine(int fd, std::string line) {
  if (fd < 0) return;
  line.push_back('\n');
  // Node makes its stdout pipe non-blocking: a full pipe is waited for, not a line lost.
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd, line.data() + off, line.size() - off);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd p = {fd, POLLOUT, 0};
      ::poll(&p, 1, 1000);
    } else {
      return;  // the log is gone (closed): nothing to do but go on serving
    }
  }
}

}  // namespace pyhost
