// The native front inside a daemon process (`pyhost-daemon --http-config FILE`): the process
// accepts and parses HTTP on the listening socket its supervisor passed down, as uWSGI and
// gunicorn workers do, and runs the requests on its serving threads; the supervisor sees no
// request. Once a second that anything changed it prints `SERVED <requests> <in flight>` on
// stdout, which the supervisor reads for recycling (maximum-requests, inactivity).
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "http/http_server.h"
#include "http/text_options.h"

namespace pyhost {

class DaemonHttpFront {
 public:
  // Reads the options file and starts serving. False (and why) if it cannot.
  bool Start(const std::string& config_path, const GroupMaker& make_group, std::string* err);
  // No new connections; requests in flight finish until `deadline`, then what is left is cut.
  void Stop(std::chrono::steady_clock::time_point deadline);

 private:
  void Report();

  std::unique_ptr<HttpServer> server_;
  std::atomic<bool> stopping_{false};
};

}  // namespace pyhost
