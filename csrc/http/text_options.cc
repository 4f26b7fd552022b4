#include "http/text_options.h"

#include <cstdlib>
#include <sstream>
#include <vector>

namespace pyhost {
namespace {

std::vector<std::string> Fields(const std::string& value) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t tab = value.find('\t', start);
    out.push_back(value.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return out;
    start = tab + 1;
  }
}

bool Number(const std::string& s, long long* out) {
  char* end = nullptr;
  *out = std::strtoll(s.c_str(), &end, 10);
  return !s.empty() && end && *end == '\0';
}

}  // namespace

bool ReadTextOptions(const std::string& text, const GroupMaker& make_group, HttpServerOptions* opts, std::string* err) {
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    number++;
    if (line.empty()) continue;
    size_t space = line.find(' ');
    std::string key = line.substr(0, space);
    std::string value = space == std::string::npos ? "" : line.substr(space + 1);
    auto fail = [&](const std::string& why) {
      *err = "http config line " + std::to_string(number) + " (" + key + "): " + why;
      return false;
    };
    long long n = 0;
    bool numeric = Number(value, &n);
    bool flag = value == "1";
    HttpApp* app = opts->apps.empty() ? nullptr : &opts->apps.back();
    if (key.rfind("app.", 0) == 0 && !app) return fail("before any `app` line");
    if (key == "app") {
      opts->apps.emplace_back();
    } else if (key == "app.target") {
      app->spec.target = value;
    } else if (key == "app.callable") {
      app->spec.callable = value;
    } else if (key == "app.module") {
      app->spec.is_module = flag;
    } else if (key == "app.reload") {
      app->spec.reload = flag;
    } else if (key == "app.group") {
      std::vector<std::string> f = Fields(value);
      if (f.size() != 3) return fail("expected NAME, KIND and STRICT");
      InterpKind kind = f[1] == "main" ? InterpKind::kMain : f[1] == "own" ? InterpKind::kOwnGil : InterpKind::kSharedGil;
      app->groups.push_back(make_group(f[0], kind, f[2] == "1"));
    } else if (key == "app.process_group") {
      app->process_group = value;
    } else if (key == "app.application_group") {
      app->application_group = value;
    } else if (key == "app.pass_authorization") {
      app->pass_authorization = flag;
    } else if (key == "app.multiprocess") {
      app->multiprocess = flag;
    } else if (key == "app.multithread") {
      app->multithread = flag;
    } else if (key == "app.chunked_request") {
      app->chunked_request = flag;
    } else if (key == "app.fallback_global") {
      app->fallback_global = flag;
    } else if (key == "route" || key == "static") {
      std::vector<std::string> f = Fields(value);
      if (f.size() != 2) return fail("expected PREFIX and a target");
      HttpRoute r;
      r.prefix = f[0];
      if (key == "static") {
        r.static_root = f[1];
      } else if (!Number(f[1], &n) || n < 0 || static_cast<size_t>(n) >= opts->apps.size()) {
        return fail("no such app: " + f[1]);
      } else {
        r.app = static_cast<int>(n);
      }
      opts->routes.push_back(std::move(r));
    } else if (key == "content_type") {
      std::vector<std::string> f = Fields(value);
      if (f.size() != 2) return fail("expected .EXT and TYPE");
      opts->content_types[f[0]] = f[1];
    } else if (!numeric) {
      return fail("unknown key, or a value that is not a number");
    } else if (key == "app.limit_request_body") {
      app->limit_request_body = n;
    } else if (key == "app.body_timeout") {
      app->body_timeout_ms = static_cast<int>(n);
    } else if (key == "listen_fd") {
      opts->listen_fds.push_back(static_cast<int>(n));
    } else if (key == "access_log_fd") {
      opts->access_log_fd = static_cast<int>(n);
    } else if (key == "threads") {
      opts->threads = static_cast<int>(n);
    } else if (key == "accept_batch") {
      opts->accept_batch = static_cast<int>(n);
    } else if (key == "header_timeout") {
      opts->header_timeout_ms = static_cast<int>(n);
    } else if (key == "body_timeout") {
      opts->body_timeout_ms = static_cast<int>(n);
    } else if (key == "keepalive_timeout") {
      opts->keepalive_timeout_ms = static_cast<int>(n);
    } else if (key == "max_keepalive_requests") {
      opts->max_keepalive_requests = static_cast<int>(n);
    } else if (key == "max_requests") {
      opts->max_requests = n;
    } else if (key == "replace_gil_free_listener") {
      opts->replace_gil_free_listener = n != 0;
    } else if (key == "max_head_bytes") {
      opts->max_head_bytes = static_cast<size_t>(n);
    } else {
      return fail("unknown key");
    }
  }
  for (const HttpApp& a : opts->apps) {
    if (a.groups.empty()) {
      *err = "http config: an app without a group";
      return false;
    }
  }
  return true;
}

}  // namespace pyhost
