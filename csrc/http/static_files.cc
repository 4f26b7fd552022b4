#include "http/static_files.h"

#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <ctime>

#include "http/response_head.h"

namespace pyhost {
namespace {

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string HttpDate(time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

bool ParseHttpDate(const std::string& s, time_t* out) {
  struct tm tm = {};
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end) return false;
  *out = timegm(&tm);
  return true;
}

std::string ContentType(const HttpServerOptions& opts, const std::string& file) {
  size_t slash = file.rfind('/');
  size_t dot = file.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash) || dot == slash + 1) return opts.default_content_type;
  std::string ext = file.substr(dot);
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = opts.content_types.find(ext);
  return it == opts.content_types.end() ? opts.default_content_type : it->second;
}

StaticOutcome Plain(ClientConnection* conn, const HttpServerOptions& opts, int status, const char* reason, bool keep_alive,
                    const std::string& extra = "") {
  std::string r = PlainResponse(status, reason, keep_alive, extra);
  struct iovec iov = {r.data(), r.size()};
  bool ok = conn->WriteAll(&iov, 1, opts.send_timeout_ms, nullptr);
  return {status, static_cast<int64_t>(std::strlen(reason) + 1), ok && keep_alive};
}

}  // namespace

bool FindHeader(const std::string& headers, const char* name, std::string* value) {
  size_t n = std::strlen(name);
  size_t pos = 0;
  while (pos < headers.size()) {
    size_t nl = headers.find('\n', pos);
    if (nl == std::string::npos) return false;
    size_t vend = headers.find('\n', nl + 1);
    if (vend == std::string::npos) vend = headers.size();
    if (nl - pos == n && strncasecmp(headers.data() + pos, name, n) == 0) {
      value->assign(headers, nl + 1, vend - nl - 1);
      return true;
    }
    pos = vend + 1;
  }
  return false;
}

StaticOutcome ServeStaticFile(ClientConnection* conn, const HttpServerOptions& opts, const HttpRoute& route,
                              const ParsedHead& head, const std::string& path_info, bool keep_alive) {
  // The body of a request to a static file is never read: such a connection cannot go on.
  if (head.has_body()) keep_alive = false;
  if (head.method != "GET" && head.method != "HEAD") {
    return Plain(conn, opts, 405, "Method Not Allowed", keep_alive, "Allow: GET, HEAD\r\n");
  }
  std::string root = route.static_root;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  // path_info is normalised (no dot segments): the file is the root or below it.
  std::string file = root + path_info;
  if (file.size() > root.size() && file.back() == '/') file.pop_back();
  if (file != root && file.compare(0, root.size() + 1, root + "/") != 0) return Plain(conn, opts, 403, "Forbidden", keep_alive);
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) ::close(fd);
    return Plain(conn, opts, 404, "Not Found", keep_alive);
  }
  int64_t mtime_ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
  std::string etag = "\"" + Hex(static_cast<uint64_t>(st.st_size)) + "-" + Hex(static_cast<uint64_t>(mtime_ms)) + "\"";
  std::string last_modified = HttpDate(st.st_mtim.tv_sec);
  std::string value;
  time_t since = 0;
  bool not_modified = (FindHeader(head.headers, "if-none-match", &value) && value == etag) ||
                      (FindHeader(head.headers, "if-modified-since", &value) && ParseHttpDate(value, &since) &&
                       static_cast<int64_t>(since) * 1000 >= (mtime_ms / 1000) * 1000);
  std::string h;
  HeadContext ctx;
  ctx.http10 = head.version_minor == 0;
  ctx.keep_alive = keep_alive && head.keep_alive;
  ctx.head_method = head.method == "HEAD";
  Framing framing;
  StaticOutcome outcome;
  if (not_modified) {
    AppendResponseHead(&h, 304, "Not Modified", {{"ETag", etag}, {"Last-Modified", last_modified}}, ctx, &framing);
    outcome.status = 304;
  } else {
    ctx.content_length = st.st_size;
    AppendResponseHead(&h, 200, "OK",
                       {{"Content-Type", ContentType(opts, file)}, {"Content-Length", std::to_string(st.st_size)},
                        {"ETag", etag}, {"Last-Modified", last_modified}},
                       ctx, &framing);
    outcome.status = 200;
  }
  struct iovec iov = {h.data(), h.size()};
  bool ok = conn->WriteAll(&iov, 1, opts.send_timeout_ms, nullptr);
  if (ok && outcome.status == 200 && !ctx.head_method && st.st_size > 0) {
    ok = conn->SendFile(fd, 0, st.st_size, opts.send_timeout_ms, nullptr);
    if (ok) outcome.bytes = st.st_size;
  }
  ::close(fd);
  outcome.keep_alive = ok && !framing.close;
  return outcome;
}

}  // namespace pyhost
