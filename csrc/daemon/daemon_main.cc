// pyhost-daemon: one process of a daemon process group. Embeds CPython (the core shared with the
// Node addon), accepts the front's request channel and connections on a UNIX socket
// (protocol.h) and serves WSGI requests on them. A pool of threads serves every connection: the
// one that holds the listener role (listener_role.h) waits for the next request and runs the
// application itself. The front supervises: it starts, recycles and restarts these processes;
// a process only executes.
//
//   pyhost-daemon --socket PATH --name GROUP [--threads N] [--program PYTHON] [--home PREFIX]
//                 [--path DIR]... [--optimize N] [--fallback global|error]
//                 [--deadlock-timeout S] [--shutdown-timeout S] [--allocator malloc|pymalloc]
//                 [--tenant-host [--memory-limit BYTES]]
// Prints "READY <pid>" on stdout once it accepts connections. SIGTERM: finish requests in
// flight, finalise Python, exit. SIGUSR2: log the Python stacks of every thread.
// With --tenant-host the process serves harness tenants instead (tenant_host.h): one connection,
// from the harness that started it; --memory-limit caps its address space (RLIMIT_AS).
#include <sys/prctl.h>
#include <sys/resource.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "python/group.h"
#include "python/inspect.h"
#include "python/log.h"
#include "python/runtime.h"
#include "daemon/daemon_log.h"
#include "daemon/connection_poller.h"
#include "daemon/daemon_request.h"
#include "daemon/listener_role.h"
#include "wire/protocol.h"
#include "daemon/tenant_host.h"
#include "wsgi/wsgi_state.h"

namespace pyhost {
namespace {

struct Config {
  std::string socket_path;
  std::string name = "daemon";
  int threads = 15;
  RuntimeOptions runtime;
  bool fallback_global = true;
  int deadlock_timeout = 300;
  int shutdown_timeout = 5;
  bool tenant_host = false;
  long long memory_limit = 0;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "pyhost-daemon: %s\n", why.c_str());
  std::exit(2);
}

Config ParseArgs(int argc, char** argv) {
  Config c;
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
    else Usage("unknown option " + a);
  }
  if (c.socket_path.empty()) Usage("--socket is required");
  return c;
}

class Daemon {
 public:
  explicit Daemon(Config c)
      : cfg_(std::move(c)), poller_([this](const std::string& message) { Log(LogLevel::kError, cfg_.name, message); }) {}

  int Run();

 private:
  // --tenant-host: serves the one harness that connects, then stops.
  [[noreturn]] void ServeTenantHost();
  std::shared_ptr<Group> GroupFor(const std::vector<std::string>& f);
  // One of the serving threads.
  void ServeLoop();
  // Serves a request; false if its connection cannot carry another one.
  bool Serve(ChannelRequest req);
  void HandleSignals();
  void Watchdog();
  void DumpStacks();
  void Stop();

  Config cfg_;
  ConnectionPoller poller_;
  ListenerRole listener_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Group>> groups_;
  int busy_ = 0;  // requests being served
  int serving_threads_ = 0;
};

std::shared_ptr<Group> Daemon::GroupFor(const std::vector<std::string>& f) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string& name = f[wire::kGroupName];
  auto it = groups_.find(name);
  if (it != groups_.end()) return it->second;
  GroupOptions o;
  o.name = name;
  const std::string& kind = f[wire::kGroupKind];
  o.kind = kind == "main" ? InterpKind::kMain : kind == "own" ? InterpKind::kOwnGil : InterpKind::kSharedGil;
  o.strict_extensions = f[wire::kGroupStrict] == "1";
  o.threads = 0;  // the serving threads run the jobs
  auto g = Group::Create(o);
  groups_.emplace(name, g);
  return g;
}

void Daemon::ServeLoop() {
  uint64_t ticket = listener_.Acquire();
  while (ticket != 0) {
    ChannelRequest req;
    if (!poller_.Wait(&req)) break;
    listener_.Leave();
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_++;
    }
    for (;;) {
      DaemonConnection* conn = req.conn;
      bool reusable = Serve(std::move(req));
      if (!reusable || stopping_.load()) {
        poller_.Close(conn);
        break;
      }
      req = ChannelRequest();
      if (!poller_.Rearm(conn, &req)) break;  // else: its next request came meanwhile
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_--;
      cv_.notify_all();
    }
    if (!listener_.Return(ticket)) ticket = listener_.Acquire();
  }
  // Stopping: this thread's interpreter states go, so Python can finalise.
  Group::ReleaseThreadStates();
  std::lock_guard<std::mutex> lock(mu_);
  serving_threads_--;
  cv_.notify_all();
}

bool Daemon::Serve(ChannelRequest r) {
  const wire::FrameHeader& h = r.head;
  std::vector<std::string> f;
  if (!wire::DecodeFields(r.fields, &f)) {  // exactly kFieldCount fields, or false
    Log(LogLevel::kError, cfg_.name, "protocol error: malformed REQUEST frame");
    return false;
  }
  AppSpec app;
  RequestHead head;
  MoveRequestFields(h.flags, &f, &app, &head);
  head.multithread = cfg_.threads > 1;  // mod_wsgi: threads=1 reports False
  auto group = GroupFor(f);  // reads the group fields, which were not moved from
  DaemonRequest req(r.conn, std::move(r.channel), std::move(app), std::move(head));
  group->RunHere(&req);
  if (req.refused()) {
    if (cfg_.fallback_global) {
      Log(LogLevel::kWarn, group->name(),
          "extension module " + req.refused_module() + " does not support sub-interpreters: group " + group->name() +
              " now runs in the main interpreter (%{GLOBAL}). To make this explicit, put the application in group "
              "'%{GLOBAL}' (WSGIApplicationGroup %{GLOBAL})");
      group->Rehome();
      req.ClearRefused();
      group->RunHere(&req);
    } else {
      std::string advice = req.refused_message() + " (pyhost: extension module " + req.refused_module() +
                           " cannot load in the sub-interpreter of group " + group->name() +
                           "; run the application in group '%{GLOBAL}' (WSGIApplicationGroup %{GLOBAL}) or use fallback: 'global')";
      req.Abort(ErrorInfo::Make("ERR_EXTENSION_REFUSED", advice));
    }
  }
  return !req.failed() && req.DrainBody();
}

void Daemon::DumpStacks() {
  std::vector<std::shared_ptr<Interp>> interps;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [name, g] : groups_)
      if (auto in = g->interp()) interps.push_back(in);
  }
  if (auto main = Runtime::Get().main_interp()) interps.push_back(main);
  std::string report;
  std::vector<Interp*> seen;
  for (auto& in : interps) {
    bool dup = false;
    for (Interp* s : seen) dup = dup || s == in.get();
    if (dup) continue;
    seen.push_back(in.get());
    auto done = std::make_shared<std::promise<std::string>>();
    auto fut = done->get_future();
    VisitInterp(in, [done, in] { done->set_value(FormatThreadStacks(in->state(), 0)); });
    if (fut.wait_for(std::chrono::seconds(2)) == std::future_status::ready) {
      report += "interpreter " + in->name() + ":\n" + fut.get();
    } else {
      report += "interpreter " + in->name() + ": its GIL was not released within 2 s (stuck in C code?)\n";
    }
  }
  Log(LogLevel::kError, cfg_.name, "Python stacks of process " + std::to_string(getpid()) + ":\n" + report);
}

void Daemon::Watchdog() {
  // A GIL that cannot be acquired for deadlock-timeout seconds means a deadlock (often a C
  // extension): exit so the front starts a fresh process.
  while (!stopping_.load()) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    auto main = Runtime::Get().main_interp();
    if (!main || stopping_.load()) continue;
    std::vector<std::shared_ptr<Interp>> interps{main};
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [n, g] : groups_)
        if (auto in = g->interp(); in && in != main) interps.push_back(in);
    }
    for (auto& in : interps) {
      auto done = std::make_shared<std::promise<void>>();
      auto fut = done->get_future();
      if (!VisitInterp(in, [done] { done->set_value(); })) continue;
      if (fut.wait_for(std::chrono::seconds(cfg_.deadlock_timeout)) != std::future_status::ready && !stopping_.load()) {
        Log(LogLevel::kError, cfg_.name,
            "deadlock detected: the GIL of interpreter " + in->name() + " could not be acquired for " +
                std::to_string(cfg_.deadlock_timeout) + " s; exiting so the process is replaced");
        std::_Exit(70);
      }
    }
  }
}

void Daemon::Stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  ::unlink(cfg_.socket_path.c_str());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(cfg_.shutdown_timeout);
  {
    // Requests in flight finish first; then every connection is shut down (idle ones close,
    // busy ones close as their request ends).
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, deadline, [&] { return busy_ == 0 && poller_.Queued() == 0; });
  }
  poller_.ShutdownAll();
  poller_.WaitAllClosed(deadline);
  poller_.StopWaiting();
  listener_.Stop();
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, deadline, [&] { return serving_threads_ == 0; });
  }
  int left = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
  std::promise<bool> done;
  auto fut = done.get_future();
  Runtime::Get().Shutdown(std::max(left, 500), [&done](bool finalized, std::string report) {
    if (!finalized) Log(LogLevel::kWarn, "", report);
    done.set_value(finalized);
  });
  fut.wait_for(std::chrono::milliseconds(std::max(left, 500) + 1000));
  std::fflush(stdout);
  std::_Exit(0);
}

void Daemon::HandleSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR2);
  sigaddset(&set, SIGHUP);
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGUSR2) {
      std::thread([this] { DumpStacks(); }).detach();
    } else if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
      Stop();
    }
  }
}

int Daemon::Run() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR2);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // inherited by every thread; sigwait takes them
  signal(SIGPIPE, SIG_IGN);
  InstallDaemonLogSink();

  std::promise<ErrorInfo> started;
  auto fut = started.get_future();
  RegisterWsgiModule();  // the gateway's state in every interpreter
  Runtime::Get().Start(cfg_.runtime, [&started](ErrorInfo e) { started.set_value(e); });
  ErrorInfo err = fut.get();
  if (!err.empty()) {
    std::printf("FAILED %s\n", err.message.c_str());
    std::fflush(stdout);
    return 1;
  }

  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (cfg_.socket_path.size() >= sizeof addr.sun_path) {
    std::printf("FAILED socket path too long: %s\n", cfg_.socket_path.c_str());
    return 1;
  }
  std::strcpy(addr.sun_path, cfg_.socket_path.c_str());
  ::unlink(cfg_.socket_path.c_str());
  mode_t old = umask(0077);  // only this user (and root) may connect
  int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (rc != 0 || ::listen(listen_fd_, 128) != 0) {
    std::printf("FAILED cannot listen on %s: %s\n", cfg_.socket_path.c_str(), std::strerror(errno));
    std::fflush(stdout);
    return 1;
  }
  std::string why;
  if (!poller_.Start(&why)) {
    std::printf("FAILED %s\n", why.c_str());
    std::fflush(stdout);
    return 1;
  }
  if (cfg_.tenant_host) ServeTenantHost();
  serving_threads_ = std::max(cfg_.threads, 1);
  for (int i = 0; i < serving_threads_; i++) std::thread([this] { ServeLoop(); }).detach();
  std::thread([this] { HandleSignals(); }).detach();
  if (cfg_.deadlock_timeout > 0) std::thread([this] { Watchdog(); }).detach();
  std::printf("READY %d\n", static_cast<int>(getpid()));
  std::fflush(stdout);

  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_.load()) break;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      break;
    }
    poller_.Add(fd);
  }
  // Stop() ends the process; wait for it.
  for (;;) pause();
}

void Daemon::ServeTenantHost() {
  if (cfg_.memory_limit > 0) {
    // Address space, not resident memory: an allocation past it fails (MemoryError in Python)
    // instead of growing the host until the machine swaps.
    struct rlimit lim = {static_cast<rlim_t>(cfg_.memory_limit), static_cast<rlim_t>(cfg_.memory_limit)};
    if (setrlimit(RLIMIT_AS, &lim) != 0) {
      std::printf("FAILED cannot set the memory limit: %s\n", std::strerror(errno));
      std::fflush(stdout);
      std::_Exit(1);
    }
  }
  std::thread([this] { HandleSignals(); }).detach();
  std::printf("READY %d\n", static_cast<int>(getpid()));
  std::fflush(stdout);
  int fd;
  do {
    fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  // One harness, one connection: nobody else may connect.
  ::close(listen_fd_);
  ::unlink(cfg_.socket_path.c_str());
  listen_fd_ = -1;
  if (fd >= 0) {
    // Never freed: its task thread and the groups' jobs may use it until the process exits.
    auto* host = new TenantHost(fd, cfg_.name);
    host->Serve();
  }
  // The harness closed the connection (or went away): finish, bounded.
  stopping_ = true;
  std::promise<bool> done;
  auto fut = done.get_future();
  Runtime::Get().Shutdown(cfg_.shutdown_timeout * 1000, [&done](bool finalized, std::string report) {
    if (!finalized) Log(LogLevel::kWarn, "", report);
    done.set_value(finalized);
  });
  fut.wait_for(std::chrono::milliseconds(cfg_.shutdown_timeout * 1000 + 1000));
  std::fflush(stdout);
  std::_Exit(0);
}

}  // namespace
}  // namespace pyhost

int main(int argc, char** argv) {
  // A daemon must not outlive its front (killed, crashed): SIGTERM when the parent goes, and
  // if it went already (before prctl), stop now.
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) return 0;
  pyhost::Daemon d(pyhost::ParseArgs(argc, argv));
  return d.Run();
}
