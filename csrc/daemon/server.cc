#include "daemon/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "daemon/daemon_request.h"
#include "daemon/process.h"
#include "python/log.h"
#include "python/runtime.h"
#include "wsgi/inline_run.h"
#include "wire/protocol.h"

namespace pyhost {

DaemonServer::DaemonServer(DaemonConfig cfg, int listen_fd)
    : cfg_(std::move(cfg)),
      listen_fd_(listen_fd),
      poller_([this](const std::string& message) { Log(LogLevel::kError, cfg_.name, message); }) {}

bool DaemonServer::Start() {
  std::string why;
  if (!poller_.Start(&why)) {
    std::printf("FAILED %s\n", why.c_str());
    std::fflush(stdout);
    return false;
  }
  if (!cfg_.http_config.empty()) {
    http_ = std::make_unique<DaemonHttpFront>();
    auto make_group = [this](const std::string& name, InterpKind kind, bool strict) { return GroupNamed(name, kind, strict); };
    if (!http_->Start(cfg_.http_config, make_group, &why)) {
      std::printf("FAILED %s\n", why.c_str());
      std::fflush(stdout);
      return false;
    }
  }
  serving_threads_ = http_ ? 0 : std::max(cfg_.threads, 1);  // HTTP: the front's threads serve
  for (int i = 0; i < serving_threads_; i++) std::thread([this] { ServeLoop(); }).detach();
  return true;
}

void DaemonServer::AcceptLoop() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_.load()) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    poller_.Add(fd);
  }
}

std::vector<std::shared_ptr<Interp>> DaemonServer::Interpreters() {
  std::vector<std::shared_ptr<Interp>> out;
  if (auto main = Runtime::Get().main_interp()) out.push_back(main);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, g] : groups_) {
    auto in = g->interp();
    if (in && std::find(out.begin(), out.end(), in) == out.end()) out.push_back(in);
  }
  return out;
}

std::shared_ptr<Group> DaemonServer::GroupFor(const std::vector<std::string>& f) {
  const std::string& kind = f[wire::kGroupKind];
  return GroupNamed(f[wire::kGroupName],
                    kind == "main" ? InterpKind::kMain : kind == "own" ? InterpKind::kOwnGil : InterpKind::kSharedGil,
                    f[wire::kGroupStrict] == "1");
}

std::shared_ptr<Group> DaemonServer::GroupNamed(const std::string& name, InterpKind kind, bool strict) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = groups_.find(name);
  if (it != groups_.end()) return it->second;
  GroupOptions o;
  o.name = name;
  o.kind = kind;
  o.strict_extensions = strict;
  o.threads = 0;  // the serving threads run the jobs
  auto g = Group::Create(o);
  groups_.emplace(name, g);
  return g;
}

void DaemonServer::ServeLoop() {
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

bool DaemonServer::Serve(ChannelRequest r) {
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
  RunHereWithFallback(*group, &req, req.refusal(), cfg_.fallback_global);
  return !req.failed() && req.DrainBody();
}

void DaemonServer::Stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  ::unlink(cfg_.socket_path.c_str());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(cfg_.shutdown_timeout);
  if (http_) http_->Stop(deadline);
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
  ExitAfterShutdown(static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count()));
}

}  // namespace pyhost
