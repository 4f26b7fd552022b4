// Runs a request of the native front on the calling thread, in its application's group (the
// least busy replica when there are several), with the group's own thread state (no hand-off
// to a worker), and carries out the application's fallback when an extension module refuses the
// group's sub-interpreter: the group moves to %{GLOBAL} and the request runs again, or it gets
// a 500 (TypeScript logs why and how to fix it).
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
