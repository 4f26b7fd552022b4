#include "http/response_head.h"

#include <strings.h>

#include <cstring>
#include <ctime>

namespace pyhost {
namespace {

bool NameIs(const std::string& name, const char* lower) {
  return name.size() == std::strlen(lower) && strcasecmp(name.c_str(), lower) == 0;
}

bool HasToken(const std::string& value, const char* token) {
  // Connection values are comma-separated tokens, case-insensitive.
  size_t n = std::strlen(token);
  for (size_t i = 0; i + n <= value.size(); i++) {
    if (strncasecmp(value.c_str() + i, token, n) == 0) {
      bool start = i == 0 || value[i - 1] == ',' || value[i - 1] == ' ';
      bool end = i + n == value.size() || value[i + n] == ',' || value[i + n] == ' ';
      if (start && end) return true;
    }
  }
  return false;
}

}  // namespace

const std::string& DateHeaderLine() {
  thread_local std::string line;
  thread_local time_t formatted = 0;
  time_t now = time(nullptr);
  if (now != formatted) {
    struct tm tm;
    gmtime_r(&now, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    line = buf;
    formatted = now;
  }
  return line;
}

void AppendResponseHead(std::string* out, int status, const std::string& reason, const HeaderList& headers,
                        const HeadContext& ctx, Framing* framing) {
  bool has_date = false, has_connection = false, app_close = false;
  size_t size = 64;
  for (const auto& [name, value] : headers) size += name.size() + value.size() + 4;
  out->reserve(out->size() + size + 96);
  out->append("HTTP/1.1 ").append(std::to_string(status)).push_back(' ');
  out->append(reason).append("\r\n");
  for (const auto& [name, value] : headers) {
    if (name.size() == 4 && NameIs(name, "date")) has_date = true;
    if (name.size() == 10 && NameIs(name, "connection")) {
      has_connection = true;
      app_close = app_close || HasToken(value, "close");
    }
    out->append(name).append(": ").append(value).append("\r\n");
  }
  if (!has_date) out->append(DateHeaderLine());
  bool body_allowed = !(status < 200 || status == 204 || status == 304);
  framing->chunked = false;
  framing->close = !ctx.keep_alive || app_close;
  if (body_allowed && !ctx.head_method && ctx.content_length < 0) {
    if (ctx.http10) {
      framing->close = true;  // the end of the body is the end of the connection
    } else {
      framing->chunked = true;
      out->append("Transfer-Encoding: chunked\r\n");
    }
  }
  if (!has_connection) {
    if (framing->close) out->append("Connection: close\r\n");
    else if (ctx.http10) out->append("Connection: keep-alive\r\n");
  }
  out->append("\r\n");
}

std::string PlainResponse(int status, const char* reason, bool keep_alive, const std::string& extra_headers) {
  std::string body = std::string(reason) + "\n";
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                  "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  r += DateHeaderLine();
  r += extra_headers;
  if (!keep_alive) r += "Connection: close\r\n";
  r += "\r\n";
  r += body;
  return r;
}

}  // namespace pyhost
