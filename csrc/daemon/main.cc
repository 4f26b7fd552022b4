// pyhost-daemon: one process of a daemon process group, or a harness's tenant host. Embeds
// CPython (the core shared with the Node addon) and serves on a UNIX socket: WSGI requests for
// its front (server.h), or harness tenants with --tenant-host (tenant_host.h).
//
//   pyhost-daemon --socket PATH --name GROUP [--threads N] [--program PYTHON] [--home PREFIX]
//                 [--path DIR]... [--optimize N] [--fallback global|error]
//                 [--deadlock-timeout S] [--shutdown-timeout S] [--allocator malloc|pymalloc]
//                 [--tenant-host [--memory-limit BYTES]] [--http-config FILE]
// Prints "READY <pid>" on stdout once it accepts connections ("FAILED <why>" if it cannot).
// SIGTERM/SIGINT/SIGHUP: finish requests in flight, finalise Python, exit. SIGUSR2: log the
// Python stacks of every thread. A tenant host serves one connection, from the harness that
// started it, and ends when it closes; --memory-limit caps its address space (RLIMIT_AS).
// With --http-config the process serves HTTP itself on the listening socket the supervisor passed
// (http/daemon_http_front.h) instead of requests from the front.
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include "daemon/config.h"
#include "daemon/process.h"
#include "daemon/server.h"
#include "daemon/tenant_host.h"
#include "daemon/watchdog.h"
#include "http/allocator_tuning.h"
#include "python/runtime.h"

namespace pyhost {
namespace {

InterpList MainOnly() {
  return [] {
    std::vector<std::shared_ptr<Interp>> out;
    if (auto main = Runtime::Get().main_interp()) out.push_back(main);
    return out;
  };
}

int RunServer(const DaemonConfig& cfg, int listen_fd) {
  auto* server = new DaemonServer(cfg, listen_fd);  // lives until the process exits
  if (!server->Start()) return 1;
  InterpList interps = [server] { return server->Interpreters(); };
  std::thread([server, cfg, interps] {
    for (;;) {
      int sig = WaitForSignal();
      if (sig == SIGUSR2) std::thread([cfg, interps] { LogStacks(cfg.name, interps); }).detach();
      else server->Stop();
    }
  }).detach();
  if (cfg.deadlock_timeout > 0) {
    std::thread([server, cfg, interps] { RunDeadlockWatchdog(cfg.name, cfg.deadlock_timeout, interps, server->stopping()); }).detach();
  }
  AnnounceReady();
  server->AcceptLoop();
  for (;;) pause();  // Stop() ends the process
}

int RunTenantHost(const DaemonConfig& cfg, int listen_fd) {
  if (cfg.memory_limit > 0) {
    // Address space, not resident memory: an allocation past it fails (MemoryError in Python)
    // instead of growing the host until the machine swaps.
    struct rlimit lim = {static_cast<rlim_t>(cfg.memory_limit), static_cast<rlim_t>(cfg.memory_limit)};
    if (setrlimit(RLIMIT_AS, &lim) != 0) {
      std::printf("FAILED cannot set the memory limit: %s\n", std::strerror(errno));
      std::fflush(stdout);
      return 1;
    }
  }
  std::thread([cfg] {
    for (;;) {
      if (WaitForSignal() == SIGUSR2) std::thread([cfg] { LogStacks(cfg.name, MainOnly()); }).detach();
      else ExitAfterShutdown(cfg.shutdown_timeout * 1000);
    }
  }).detach();
  AnnounceReady();
  int fd;
  do {
    fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  // One harness, one connection: nobody else may connect.
  ::close(listen_fd);
  ::unlink(cfg.socket_path.c_str());
  if (fd >= 0) {
    // Never freed: its task thread and the groups' jobs may use it until the process exits.
    auto* host = new TenantHost(fd, cfg.name);
    host->Serve();
  }
  // The harness closed the connection (or went away): finish, bounded.
  ExitAfterShutdown(cfg.shutdown_timeout * 1000);
}

}  // namespace
}  // namespace pyhost

int main(int argc, char** argv) {
  // A daemon must not outlive its front (killed, crashed): SIGTERM when the parent goes, and
  // if it went already (before prctl), stop now.
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) return 0;
  pyhost::DaemonConfig cfg = pyhost::ParseDaemonArgs(argc, argv);
  pyhost::BlockSignals();
  pyhost::TuneAllocatorForServing();
  if (!pyhost::StartPython(cfg)) return 1;
  int fd = pyhost::ListenUnix(cfg.socket_path);
  if (fd < 0) return 1;
  return cfg.tenant_host ? pyhost::RunTenantHost(cfg, fd) : pyhost::RunServer(cfg, fd);
}
