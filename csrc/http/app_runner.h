// Runs a request of the native front on the calling thread, in its application's group (the
// least busy replica when there are several), with the group's own thread state (no hand-off
// to a worker), and the application's %{GLOBAL} fallback (wsgi/inline_run.h).
#pragma once
#include <atomic>
#include <memory>
#include <vector>

#include "http/http_request.h"
#include "http/server_options.h"

namespace pyhost {

class AppRunner {
 public:
  explicit AppRunner(const std::vector<HttpApp>& apps);
  void Run(int app, HttpRequest* req);

 private:
  const std::vector<HttpApp>& apps_;
  // Requests running per app and replica.
  std::vector<std::unique_ptr<std::atomic<int>[]>> running_;
};

}  // namespace pyhost
