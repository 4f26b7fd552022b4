// A pyhost-daemon process's command line (main.cc has the usage).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "python/runtime.h"

namespace pyhost {

struct DaemonConfig {
  std::string socket_path;
  std::string name = "daemon";
  int threads = 15;
  RuntimeOptions runtime;
  bool fallback_global = true;
  int deadlock_timeout = 300;  // seconds; 0: no watchdog
  int shutdown_timeout = 5;    // seconds
  bool tenant_host = false;
  long long memory_limit = 0;  // bytes of address space (tenant hosts); 0: none
  std::string http_config;     // --http-config: serve HTTP on the inherited listening socket
  std::vector<std::pair<std::string, int>> error_statuses;  // the front's table (--error-status)
};

// Exits with status 2 and the reason on stderr when the arguments are wrong.
DaemonConfig ParseDaemonArgs(int argc, char** argv);

}  // namespace pyhost
