// HttpServerOptions from text, for a daemon process that serves HTTP itself on a listening socket
// it inherited (`pyhost-daemon --http-config FILE`, written by the supervisor,
// ts/front/daemon-front.ts). One `key value` per line; fields within a value are separated by
// tabs. `app` starts an application, the `app.*` keys after it describe it:
//
//   listen_fd 3            access_log_fd 4         threads 8          accept_batch 1
//   header_timeout MS      body_timeout MS         keepalive_timeout MS
//   max_keepalive_requests N                       max_head_bytes N   max_requests N
//   replace_gil_free_listener 0|1
//   app                    app.target PATH         app.callable NAME  app.module 0|1
//   app.reload 0|1         app.group NAME<TAB>main|shared|own<TAB>0|1 (strict extensions)
//   app.process_group S    app.application_group S app.pass_authorization 0|1
//   app.multiprocess 0|1   app.multithread 0|1     app.limit_request_body N
//   app.body_timeout MS    app.chunked_request 0|1 app.fallback_global 0|1
//   route PREFIX<TAB>APP   static PREFIX<TAB>ROOT  content_type .EXT<TAB>TYPE
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "python/interp.h"
#include "http/server_options.h"

namespace pyhost {

using GroupMaker = std::function<std::shared_ptr<Group>(const std::string& name, InterpKind kind, bool strict)>;

// False (and why, naming the line) on a line it cannot read.
bool ReadTextOptions(const std::string& text, const GroupMaker& make_group, HttpServerOptions* opts, std::string* err);

}  // namespace pyhost
