#include "http/http_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <strings.h>

#include <cctype>
#include <cstring>
#include <system_error>
#include <thread>

#include "python/group.h"
#include "python/log.h"
#include "http/access_log.h"
#include "http/allocator_tuning.h"
#include "http/paths.h"
#include "http/response_head.h"
#include "http/static_files.h"

namespace pyhost {
namespace {

// epoll tags: 0 is the stop eventfd, listening sockets have the top bit, connections their serial.
constexpr uint64_t kStopTag = 0;
constexpr uint64_t kListenTag = 1ull << 63;
// A connection is watched for new bytes, edge-triggered: an edge while a thread owns it is noted
// (pending) and taken by that thread before it lets go; so a request costs no epoll_ctl.
constexpr uint32_t kConnEvents = EPOLLIN | EPOLLRDHUP | EPOLLET;
constexpr int kMaxEvents = 64;

const char* ReasonFor(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Request Entity Too Large";
    case 431: return "Request Header Fields Too Large";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
  }
}

// SERVER_NAME and SERVER_PORT from a Host value, as ts/http/request-fields.ts reads them.
void HostParts(const std::string& host, std::string* name, std::string* port) {
  *port = "80";
  size_t name_end;
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    if (close == std::string::npos) {
      *name = host;
      return;
    }
    name_end = close + 1;
  } else {
    name_end = host.find(':');
    if (name_end == std::string::npos) name_end = host.size();
  }
  std::string rest = host.substr(name_end);
  if (!rest.empty()) {
    bool digits = rest.size() > 1 && rest[0] == ':' && rest.find_first_not_of("0123456789", 1) == std::string::npos;
    if (!digits) {
      *name = host;  // not host[:port]: as given
      return;
    }
    *port = std::to_string(std::stoul(rest.substr(1)));
  }
  *name = host.substr(0, name_end);
  for (auto& ch : *name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
}

// The raw headers with every Host value replaced by `authority` (or one added).
std::string ReplaceHost(const std::string& headers, const std::string& authority) {
  std::string out;
  bool found = false;
  size_t pos = 0;
  while (pos < headers.size()) {
    size_t nl = headers.find('\n', pos);
    if (nl == std::string::npos) break;
    size_t vend = headers.find('\n', nl + 1);
    if (vend == std::string::npos) vend = headers.size();
    std::string name = headers.substr(pos, nl - pos);
    bool host = name.size() == 4 && strncasecmp(name.c_str(), "host", 4) == 0;
    found = found || host;
    if (!out.empty()) out.push_back('\n');
    out.append(name).push_back('\n');
    out.append(host ? authority : headers.substr(nl + 1, vend - nl - 1));
    pos = vend + 1;
  }
  if (!found) {
    if (!out.empty()) out.push_back('\n');
    out.append("Host\n").append(authority);
  }
  return out;
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions opts, bool eager) : opts_(std::move(opts)), eager_(eager), runner_(opts_.apps) {
  int every = opts_.header_timeout_ms > 0 ? opts_.header_timeout_ms / 10 : 1000;
  if (opts_.keepalive_timeout_ms > 0) every = std::min(every, opts_.keepalive_timeout_ms / 10);
  sweep_every_ = std::chrono::milliseconds(std::max(50, std::min(1000, every)));
  next_sweep_ = Clock::now() + sweep_every_;
  if (opts_.replace_gil_free_listener) role_.set_gil_probe(&Group::SlotHoldsGil);
}

HttpServer::~HttpServer() {
  for (auto& [serial, c] : conns_) delete c;
  for (int fd : opts_.listen_fds) ::close(fd);
  if (epfd_ >= 0) ::close(epfd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

bool HttpServer::Start(std::string* err) {
  TuneAllocatorForServing();
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epfd_ < 0 || stop_fd_ < 0) {
    *err = std::string("epoll: ") + std::strerror(errno);
    return false;
  }
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = kStopTag;
  ::epoll_ctl(epfd_, EPOLL_CTL_ADD, stop_fd_, &ev);
  for (size_t i = 0; i < opts_.listen_fds.size(); i++) {
    // EPOLLEXCLUSIVE: a new connection wakes one waiter, not every process sharing the socket.
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = kListenTag | i;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, opts_.listen_fds[i], &ev) != 0) {
      *err = std::string("epoll_ctl (listening socket): ") + std::strerror(errno);
      return false;
    }
  }
  int threads = std::max(1, opts_.threads);
  for (int i = 0; i < threads; i++) {
    try {
      std::thread([this] { ServeLoop(); }).detach();
    } catch (const std::system_error& e) {
      if (i == 0) {
        *err = std::string("cannot start a serving thread: ") + e.what();
        return false;
      }
      Log(LogLevel::kError, opts_.log_group, std::string("cannot start a serving thread: ") + e.what());
      break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    threads_alive_++;
  }
  return true;
}

void HttpServer::ServeLoop() {
  const void* slot = Group::ThisThreadSlot();
  uint64_t ticket = eager_ ? 1 : role_.Acquire(slot);
  while (ticket != 0) {
    ClientConnection* c = NextConnection();
    if (!c) break;
    if (!eager_) role_.Leave();
    Serve(c);
    if (!eager_ && !role_.Return(ticket)) ticket = role_.Acquire(slot);
  }
  // This thread's interpreter states go now, so Python can finalise.
  Group::ReleaseThreadStates();
  std::lock_guard<std::mutex> lock(mu_);
  threads_alive_--;
  cv_.notify_all();
}

ClientConnection* HttpServer::NextConnection() {
  struct epoll_event events[kMaxEvents];
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return nullptr;
      while (!ready_.empty()) {
        uint64_t serial = ready_.front();
        ready_.pop_front();
        auto it = conns_.find(serial);
        if (it != conns_.end()) return it->second;
      }
    }
    Clock::time_point now = Clock::now();
    bool sweep = false;
    Clock::time_point next;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (now >= next_sweep_) {
        next_sweep_ = now + sweep_every_;
        sweep = true;
      }
      next = next_sweep_;
    }
    if (sweep) Sweep(now);
    int timeout = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count()) + 1;
    int n = ::epoll_wait(epfd_, events, eager_ ? 1 : kMaxEvents, timeout);
    if (n < 0 && errno != EINTR) {
      Log(LogLevel::kError, opts_.log_group, std::string("epoll_wait: ") + std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (int i = 0; i < n; i++) {
      uint64_t tag = events[i].data.u64;
      if (tag == kStopTag) return nullptr;
      if (tag & kListenTag) {
        size_t index = static_cast<size_t>(tag & ~kListenTag);
        if (index < opts_.listen_fds.size()) Accept(opts_.listen_fds[index]);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      auto it = conns_.find(tag);
      if (it == conns_.end()) continue;
      if (it->second->owned) {
        it->second->pending = true;  // its owner reads again before it lets go
      } else {
        it->second->owned = true;
        ready_.push_back(tag);
      }
    }
  }
}

void HttpServer::Accept(int listen_fd) {
  for (int i = 0; i < std::max(1, opts_.accept_batch); i++) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EBADF && errno != EINVAL) {
        Log(LogLevel::kError, opts_.log_group, std::string("accept: ") + std::strerror(errno));
        if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto* c = new ClientConnection(fd, next_serial_.fetch_add(1, std::memory_order_relaxed), opts_.max_head_bytes);
    c->ReadAddresses();
    std::lock_guard<std::mutex> lock(mu_);
    if (!accepting_ || stopping_) {
      delete c;
      return;
    }
    conns_.emplace(c->serial(), c);
    struct epoll_event ev = {};
    ev.events = kConnEvents;
    ev.data.u64 = c->serial();
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) CloseLocked(c);
  }
}

void HttpServer::Sweep(Clock::time_point now) {
  std::vector<std::pair<ClientConnection*, bool>> expired;  // and whether it gets a 408
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [serial, c] : conns_) {
      if (c->owned) continue;
      auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(now - c->since).count();
      bool head_due = c->head_started || c->requests == 0;
      if (!accepting_ && !head_due) {
        expired.emplace_back(c, false);  // idle between requests: nothing is lost
      } else if (head_due) {
        if (opts_.header_timeout_ms > 0 && idle >= opts_.header_timeout_ms) expired.emplace_back(c, true);
      } else if (opts_.keepalive_timeout_ms > 0 && idle >= opts_.keepalive_timeout_ms) {
        expired.emplace_back(c, false);
      }
    }
    for (auto& [c, answer] : expired) c->owned = true;
  }
  for (auto& [c, answer] : expired) {
    if (answer) {
      // One attempt, never waiting: the client that stalled is not waited for either.
      std::string r = PlainResponse(408, ReasonFor(408), false);
      (void)!::send(c->fd(), r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::shutdown(c->fd(), SHUT_WR);
    }
    Close(c);
  }
}

bool HttpServer::Release(ClientConnection* c) {
  std::lock_guard<std::mutex> lock(mu_);
  // Stopping, or no longer accepting and idle between requests (a connection that has not sent
  // its first request yet, or only part of it, is still served).
  if (stopping_ || (!accepting_ && c->requests > 0 && !c->head_started)) {
    CloseLocked(c);
    return true;
  }
  if (c->pending) {
    c->pending = false;  // bytes came while it was served
    return false;
  }
  c->owned = false;
  return true;
}

void HttpServer::Close(ClientConnection* c) {
  std::lock_guard<std::mutex> lock(mu_);
  CloseLocked(c);
}

void HttpServer::CloseLocked(ClientConnection* c) {
  conns_.erase(c->serial());
  delete c;  // closing its descriptor takes it out of the epoll set
  cv_.notify_all();
}

bool HttpServer::Answer(ClientConnection* c, int status, const char* reason, bool keep_alive) {
  std::string r = PlainResponse(status, reason, keep_alive);
  struct iovec iov = {r.data(), r.size()};
  return c->WriteAll(&iov, 1, opts_.send_timeout_ms, nullptr) && keep_alive;
}

void HttpServer::LogAccess(ClientConnection* c, int status, int64_t bytes) {
  if (opts_.access_log_fd >= 0) WriteLogLine(opts_.access_log_fd, CombinedLogLine(c->remote_addr, c->parser.head(), status, bytes));
}

void HttpServer::Serve(ClientConnection* c) {
  for (;;) {
    if (c->size() > 0) {
      size_t used = 0;
      RequestParser::Status st = c->parser.ParseHead(c->data(), c->size(), &used);
      c->Consume(used);
      if (st == RequestParser::Status::kError) {
        int status = c->parser.error_status();
        Log(LogLevel::kDebug, opts_.log_group,
            "request from " + c->remote_addr + " refused (" + std::to_string(status) + "): " + c->parser.error_reason());
        Answer(c, status, ReasonFor(status), false);
        Close(c);
        return;
      }
      if (st == RequestParser::Status::kDone) {
        bool keep = HandleRequest(c);
        if (!keep || c->broken()) {
          Close(c);
          return;
        }
        c->requests++;
        c->parser.Reset();
        c->head_started = false;
        c->since = Clock::now();
        // Nothing pipelined, and the last read emptied the socket: wait for the next request's
        // edge (no read that would only find the socket empty).
        if (c->size() == 0 && !c->maybe_more()) {
          if (Release(c)) return;
        }
        continue;
      }
      if (!c->head_started && c->parser.head_bytes() > 0) {
        c->head_started = true;
        if (c->requests > 0) c->since = Clock::now();  // a first request's head counts from the accept
      }
    }
    ClientConnection::ReadResult r = c->ReadSome();
    if (r == ClientConnection::ReadResult::kData) continue;
    if (r == ClientConnection::ReadResult::kClosed) {
      Close(c);
      return;
    }
    if (Release(c)) return;
  }
}

bool HttpServer::HandleRequest(ClientConnection* c) {
  const ParsedHead& ph = c->parser.head();
  inflight_.fetch_add(1, std::memory_order_relaxed);
  struct Done {
    HttpServer* s;
    ~Done() {
      uint64_t n = s->requests_.fetch_add(1, std::memory_order_relaxed) + 1;
      bool idle = s->inflight_.fetch_sub(1, std::memory_order_relaxed) == 1;
      // The process has served its share (maximum-requests): it takes no new connection; the
      // supervisor replaces it.
      if (s->opts_.max_requests > 0 && n == static_cast<uint64_t>(s->opts_.max_requests)) s->StopAccepting();
      if (idle && s->on_idle_) s->on_idle_();
    }
  } done{this};
  bool keep_alive;
  {
    std::lock_guard<std::mutex> lock(mu_);
    keep_alive = accepting_ && !stopping_ &&
                 (opts_.max_keepalive_requests <= 0 || c->requests + 1 < opts_.max_keepalive_requests);
  }
  // Without a body to skip, a refused request leaves the connection usable.
  bool can_continue = keep_alive && !ph.has_body();
  TargetParts target;
  if (!SplitTarget(ph.url, &target)) {
    Answer(c, 400, ReasonFor(400), false);
    LogAccess(c, 400, 12);
    return false;
  }
  std::string decoded;
  std::string path;
  const HttpRoute* route = nullptr;
  std::string script_name, path_info;
  if (DecodePath(target.raw_path, &decoded)) {
    path = NormalizePath(decoded);
    for (const HttpRoute& r : opts_.routes) {
      if (SplitMount(r.prefix, path, &script_name, &path_info)) {
        route = &r;
        break;
      }
    }
  }
  int status = 0;
  int64_t bytes = 0;
  bool keep = false;
  if (!route) {
    keep = Answer(c, 404, ReasonFor(404), can_continue);
    status = 404;
    bytes = 10;
  } else if (route->app < 0) {
    StaticOutcome o = ServeStaticFile(c, opts_, *route, ph, path_info, keep_alive);
    status = o.status;
    bytes = o.bytes;
    keep = o.keep_alive;
  } else {
    std::string host = target.absolute ? target.authority : ph.host;
    keep = RunApp(c, *route, host, script_name, path_info, target.query, keep_alive, &status, &bytes);
  }
  LogAccess(c, status, bytes);
  return keep;
}

bool HttpServer::RunApp(ClientConnection* c, const HttpRoute& route, const std::string& host, const std::string& script_name,
                        const std::string& path_info, const std::string& query, bool keep_alive, int* status, int64_t* bytes) {
  const ParsedHead& ph = c->parser.head();
  const HttpApp& app = opts_.apps[static_cast<size_t>(route.app)];
  if (ph.chunked && !app.chunked_request) {
    *status = 411;
    *bytes = 16;
    return Answer(c, 411, ReasonFor(411), false);  // the body is not read
  }
  if (app.limit_request_body > 0 && ph.content_length > app.limit_request_body) {
    *status = 413;
    *bytes = 25;
    return Answer(c, 413, ReasonFor(413), false);  // the body is not read
  }
  RequestHead h;
  h.method = ph.method;
  h.script_name = script_name;
  h.path_info = path_info;
  h.query = query;
  h.request_uri = ph.url;
  h.protocol = ph.version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
  h.scheme = "http";
  if (!host.empty()) {
    HostParts(host, &h.server_name, &h.server_port);
  } else {
    h.server_name = c->local_addr;
    h.server_port = "80";
  }
  h.local_addr = c->local_addr;
  h.remote_addr = c->remote_addr;
  h.remote_port = c->remote_port;
  h.headers = host == ph.host ? ph.headers : ReplaceHost(ph.headers, host);
  h.process_group = app.process_group;
  h.application_group = app.application_group;
  h.pass_authorization = app.pass_authorization;
  h.has_body = ph.has_body();
  h.multiprocess = app.multiprocess;
  h.multithread = app.multithread;
  HttpRequest req(c, opts_, app, std::move(h), ph, keep_alive);
  runner_.Run(route.app, &req);
  bool keep = req.FinishExchange();
  *status = req.status();
  *bytes = req.bytes_out();
  return keep;
}

void HttpServer::StopAccepting() {
  std::vector<ClientConnection*> idle;
  std::lock_guard<std::mutex> lock(mu_);
  if (!accepting_) return;
  accepting_ = false;
  for (int fd : opts_.listen_fds) {
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
  }
  opts_.listen_fds.clear();
  // Idle between requests: closed now. One whose (first) request is still coming is served.
  for (auto& [serial, c] : conns_)
    if (!c->owned && c->requests > 0 && !c->head_started) idle.push_back(c);
  for (ClientConnection* c : idle) CloseLocked(c);
}

bool HttpServer::Shutdown(Clock::time_point deadline) {
  StopAccepting();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    // Connections being served break now: their threads see the error and come back.
    for (auto& [serial, c] : conns_) ::shutdown(c->fd(), SHUT_RDWR);
  }
  uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  role_.Stop();
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_until(lock, deadline, [&] { return threads_alive_ == 0; });
}

HttpServer::Stats HttpServer::stats() {
  Stats s;
  s.requests = requests_.load(std::memory_order_relaxed);
  s.inflight = inflight_.load(std::memory_order_relaxed);
  s.exhausted = opts_.max_requests > 0 && s.requests >= static_cast<uint64_t>(opts_.max_requests);
  std::lock_guard<std::mutex> lock(mu_);
  s.connections = static_cast<int>(conns_.size());
  return s;
}

}  // namespace pyhost
