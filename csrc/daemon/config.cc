#include "daemon/config.h"

#include <cstdio>
#include <cstdlib>

namespace pyhost {
namespace {

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "pyhost-daemon: %s\n", why.c_str());
  std::exit(2);
}

}  // namespace

DaemonConfig ParseDaemonArgs(int argc, char** argv) {
  DaemonConfig c;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--socket") c.socket_path = next();
    else if (a == "--name") c.name = next();
    else if (a == "--threads") c.threads = std::atoi(next().c_str());
    else if (a == "--program") c.runtime.program = next();
    else if (a == "--home") c.runtime.home = next();
    else if (a == "--path") c.runtime.path.push_back(next());
    else if (a == "--optimize") c.runtime.optimize = std::atoi(next().c_str());
    else if (a == "--fallback") c.fallback_global = next() != "error";
    else if (a == "--deadlock-timeout") c.deadlock_timeout = std::atoi(next().c_str());
    else if (a == "--shutdown-timeout") c.shutdown_timeout = std::atoi(next().c_str());
    else if (a == "--allocator") c.runtime.allocator = next();
    else if (a == "--tenant-host") c.tenant_host = true;
    else if (a == "--memory-limit") c.memory_limit = std::atoll(next().c_str());
    else if (a == "--http-config") c.http_config = next();
    else if (a == "--error-status") {
      std::string v = next();
      size_t eq = v.find('=');
      if (eq == std::string::npos) Usage("--error-status takes CODE=STATUS");
      c.error_statuses.emplace_back(v.substr(0, eq), std::atoi(v.c_str() + eq + 1));
    }
    else Usage("unknown option " + a);
  }
  if (c.socket_path.empty()) Usage("--socket is required");
  return c;
}

}  // namespace pyhost
