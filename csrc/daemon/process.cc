#include "daemon/process.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>

#include "daemon/daemon_log.h"
#include "python/log.h"
#include "python/runtime.h"
#include "wsgi/error_status.h"
#include "wsgi/wsgi_state.h"

namespace pyhost {
namespace {

sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR2);
  sigaddset(&set, SIGHUP);
  return set;
}

void Failed(const std::string& why) {
  std::printf("FAILED %s\n", why.c_str());
  std::fflush(stdout);
}

}  // namespace

void BlockSignals() {
  sigset_t set = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // inherited by every thread; WaitForSignal takes them
  signal(SIGPIPE, SIG_IGN);
}

int WaitForSignal() {
  sigset_t set = HandledSignals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) == 0) return sig;
  }
}

bool StartPython(const DaemonConfig& cfg) {
  InstallDaemonLogSink();
  RegisterWsgiModule();  // the gateway's state in every interpreter
  SetErrorStatuses(cfg.error_statuses);
  std::promise<ErrorInfo> started;
  auto fut = started.get_future();
  Runtime::Get().Start(cfg.runtime, [&started](ErrorInfo e, bool) { started.set_value(e); });
  ErrorInfo err = fut.get();
  if (!err.empty()) {
    Failed(err.message);
    return false;
  }
  return true;
}

int ListenUnix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    Failed("socket path too long: " + path);
    return -1;
  }
  std::strcpy(addr.sun_path, path.c_str());
  ::unlink(path.c_str());
  mode_t old = umask(0077);  // only this user (and root) may connect
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (rc != 0 || ::listen(fd, 128) != 0) {
    Failed("cannot listen on " + path + ": " + std::strerror(errno));
    ::close(fd);
    return -1;
  }
  return fd;
}

void AnnounceReady() {
  std::printf("READY %d\n", static_cast<int>(getpid()));
  std::fflush(stdout);
}

void ExitAfterShutdown(int timeout_ms) {
  timeout_ms = std::max(timeout_ms, 500);
  std::promise<bool> done;
  auto fut = done.get_future();
  Runtime::Get().Shutdown(timeout_ms, [&done](bool finalized, std::string report) {
    if (!finalized) Log(LogLevel::kWarn, "", report);
    done.set_value(finalized);
  });
  fut.wait_for(std::chrono::milliseconds(timeout_ms + 1000));
  std::fflush(stdout);
  std::_Exit(0);
}

}  // namespace pyhost
