// What the native HTTP front serves and how, as plain data: the host (the Node binding reading the
// options object TypeScript validated, or the daemon reading its arguments) fills it in; the
// front executes it and decides nothing of its own (routes, groups, limits and timeouts are
// policy, decided in TypeScript).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "wsgi/request.h"

namespace pyhost {

class Group;

// One WSGI application and where it runs.
struct HttpApp {
  AppSpec spec;
  // The group that runs it, or several replicas of it (the least busy takes each request).
  std::vector<std::shared_ptr<Group>> groups;
  std::string process_group, application_group;  // as environ reports them
  bool pass_authorization = false;
  bool multiprocess = false;
  bool multithread = true;
  int64_t limit_request_body = 0;  // bytes, 0: none (413 past it)
  int body_timeout_ms = 0;         // a body stalled this long: 408 (0: none)
  bool chunked_request = true;     // false: a chunked body gets 411
  bool fallback_global = true;     // an extension refusing sub-interpreters moves the group to %{GLOBAL}
};

// A URL prefix and what serves it.
struct HttpRoute {
  std::string prefix;       // canonical: leading slash, no trailing slash; '' is the root
  int app = -1;             // index in HttpServerOptions::apps, or -1 for a static alias
  std::string static_root;  // a static alias: the directory (or single file) it serves
};

struct HttpServerOptions {
  std::vector<int> listen_fds;  // listening sockets (the server takes them over and closes them)
  std::vector<HttpApp> apps;
  std::vector<HttpRoute> routes;  // the first whose prefix matches wins: longest first
  std::map<std::string, std::string> content_types;  // static files: ".ext" -> Content-Type
  std::string default_content_type = "application/octet-stream";
  int threads = 5;                  // serving threads (each runs the requests it parses)
  int accept_batch = 16;            // connections accepted per wake-up (1: share with other processes)
  int header_timeout_ms = 20000;    // a request head not received in this time: 408 (0: none)
  int body_timeout_ms = 20000;      // a body left unread by the application, or sent to a static file, may stall this long
  int keepalive_timeout_ms = 5000;  // an idle keep-alive connection closes after this
  int send_timeout_ms = 60000;      // a client that takes no response byte for this long is cut
  int max_keepalive_requests = 0;   // requests per connection (0: no limit)
  int64_t max_requests = 0;         // after this many requests the server stops accepting (0: never)
  size_t max_head_bytes = 16384;    // a longer request head: 431 (Node's default)
  int access_log_fd = -1;           // Apache combined format lines, or -1 for none
  std::string log_group;            // names the front in its own log lines
  // A listener that computes without a GIL (C code that released it) is replaced like a blocked
  // one (http/listener_role.h). ts/front/daemon-front.ts turns it off where sibling processes keep
  // the other cores busy.
  bool replace_gil_free_listener = true;
};

}  // namespace pyhost
