// The native front inside a daemon process (`pyhost-daemon --http-config FILE`): the process
// accepts and parses HTTP on the listening socket its supervisor passed down, as uWSGI and
// gunicorn workers do, and runs the requests on its serving threads; the supervisor sees no
// request. Every 100 ms in which anything changed, and as soon as the last request in flight
// ends (at most every 5 ms), it prints `SERVED <requests> <in flight>` on stdout, which the
// supervisor reads for recycling (maximum-requests, inactivity) and for the requests in flight at
// shutdown; `RECYCLE <why>` once it has served its maximum-requests (it
// then accepts no more connections, and the supervisor starts its successor).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
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
  std::mutex mu_;
  std::condition_variable wake_;  // the last request in flight ended: report at once
  int64_t maximum_requests_ = 0;  // as configured (each process adds up to 10%)
};

}  // namespace pyhost
