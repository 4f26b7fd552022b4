#include "daemon/connection_poller.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

namespace pyhost {

namespace {
constexpr size_t kReadChunk = 64 << 10;
constexpr size_t kChannelReadMax = 1 << 20;  // per turn, so other sockets get their turn
constexpr size_t kClosedIdsKept = 4096;
// A socket waiting for its first frame, and a channel: one event each, then re-armed
// (EPOLLONESHOT: one thread reads it at a time).
constexpr uint32_t kReadEvents = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
// An idle connection: only its closing matters (the front closed it, or went away).
constexpr uint32_t kIdleEvents = EPOLLRDHUP | EPOLLONESHOT;
}  // namespace

ResponseChannel::~ResponseChannel() { ::close(fd_); }

bool ResponseChannel::Write(uint32_t conn_id, struct iovec* iov, size_t count,
                            const std::function<void()>& release_gil) {
  size_t inner = 0;
  for (size_t i = 0; i < count; i++) inner += iov[i].iov_len;
  char head[wire::kHeaderSize + 4];
  wire::EncodeHeader({wire::kResponse, 0, 0, static_cast<uint32_t>(4 + inner)}, head);
  wire::EncodeU32(conn_id, head + wire::kHeaderSize);
  std::vector<struct iovec> all;
  all.reserve(count + 1);
  all.push_back({head, sizeof head});
  all.insert(all.end(), iov, iov + count);
  // Waiting for the lock (another thread's write is blocked) or for room happens without the GIL.
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  bool released = false;
  if (!lock.owns_lock()) {
    release_gil();
    released = true;
    lock.lock();
  }
  struct iovec* rest = all.data();
  size_t left = all.size();
  if (!wire::WriteVectorNow(fd_, rest, left)) return false;
  if (left == 0) return true;
  if (!released) release_gil();
  return wire::WriteVector(fd_, rest, left);
}

bool DaemonConnection::ReadFull(char* buf, size_t len) {
  size_t have = buf_.size() - off_;
  if (have > 0) {
    size_t n = have < len ? have : len;
    std::memcpy(buf, buf_.data() + off_, n);
    off_ += n;
    buf += n;
    len -= n;
    if (off_ == buf_.size()) {
      buf_.clear();
      off_ = 0;
    }
  }
  return len == 0 || wire::ReadFull(fd_, buf, len);
}

bool ConnectionPoller::Start(std::string* err) {
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) {
    *err = std::string("epoll_create1: ") + std::strerror(errno);
    return false;
  }
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;
  if (stop_fd_ < 0 || ::epoll_ctl(epfd_, EPOLL_CTL_ADD, stop_fd_, &ev) != 0) {
    *err = std::string("eventfd: ") + std::strerror(errno);
    return false;
  }
  return true;
}

void ConnectionPoller::Arm(DaemonConnection* c, uint32_t events) {
  struct epoll_event ev = {};
  ev.events = events;
  ev.data.u64 = c->serial_;
  c->watched_ = events == kIdleEvents;
  if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd_, &ev) != 0) {
    on_error_(std::string("epoll_ctl: ") + std::strerror(errno));
    CloseLocked(c);
  }
}

void ConnectionPoller::Add(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  auto* c = new DaemonConnection(fd, next_serial_++);
  conns_.emplace(c->serial_, c);
  struct epoll_event ev = {};
  ev.events = kReadEvents;
  ev.data.u64 = c->serial_;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    on_error_(std::string("epoll_ctl: ") + std::strerror(errno));
    CloseLocked(c);
  }
}

bool ConnectionPoller::Fill(DaemonConnection* c, size_t max) {
  std::string& buf = c->buf_;
  if (c->off_ > 0) {
    buf.erase(0, c->off_);
    c->off_ = 0;
  }
  size_t got = 0;
  char chunk[kReadChunk];  // not buf.resize(): that would zero a chunk per read
  while (got < max) {
    ssize_t n = ::recv(c->fd_, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buf.append(chunk, static_cast<size_t>(n));
      got += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < sizeof chunk) return true;  // drained
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  return true;
}

void ConnectionPoller::Hello(DaemonConnection* c, uint32_t id) {
  c->kind_ = DaemonConnection::Kind::kConnection;
  c->id_ = id;
  by_id_[id] = c;
  auto it = pending_.find(id);
  if (it != pending_.end()) {
    // Its first request came on the channel before the HELLO.
    c->busy_ = true;
    it->second.conn = c;
    ready_.push_back(std::move(it->second));
    pending_.erase(it);
    return;
  }
  Arm(c, kIdleEvents);
}

bool ConnectionPoller::ReadFirstFrame(DaemonConnection* c) {
  if (!Fill(c, kReadChunk)) return false;
  if (c->buf_.size() < wire::kHeaderSize) {
    Arm(c, kReadEvents);
    return true;
  }
  wire::FrameHeader h = wire::DecodeHeader(c->buf_.data());
  if (h.type == wire::kChannel && h.length == 0) {
    c->kind_ = DaemonConnection::Kind::kChannel;
    c->channel_ = std::make_shared<ResponseChannel>(c->fd_);
    c->off_ = wire::kHeaderSize;
    return ReadChannel(c);
  }
  if (h.type == wire::kHello && h.length == 4) {
    if (c->buf_.size() < wire::kHeaderSize + 4) {
      Arm(c, kReadEvents);
      return true;
    }
    c->off_ = wire::kHeaderSize + 4;  // what follows is a body: its request reads it
    Hello(c, wire::DecodeU32(c->buf_.data() + wire::kHeaderSize));
    return true;
  }
  on_error_("protocol error: a new socket must start with HELLO or CHANNEL, got type " + std::to_string(h.type));
  return false;
}

bool ConnectionPoller::Route(DaemonConnection* channel, const wire::FrameHeader& h, const char* payload) {
  if (h.type != wire::kRequest || h.length < 4) {
    on_error_("protocol error: expected a REQUEST frame on the channel, got type " + std::to_string(h.type));
    return false;
  }
  uint32_t id = wire::DecodeU32(payload);
  if (closed_ids_.count(id)) return true;  // its connection is gone: the front answered already
  ChannelRequest req;
  req.channel = channel->channel_;
  req.head = h;
  req.fields.assign(payload + 4, h.length - 4);
  auto it = by_id_.find(id);
  if (it == by_id_.end() || it->second->busy_) {
    // Its HELLO is not read yet, or the previous request's thread has not given the connection
    // back yet (the front saw its END first): the request waits for that.
    if (pending_.count(id)) {
      on_error_("protocol error: two requests at once for connection " + std::to_string(id));
      return false;
    }
    pending_.emplace(id, std::move(req));
    return true;
  }
  it->second->busy_ = true;
  req.conn = it->second;
  ready_.push_back(std::move(req));
  return true;
}

bool ConnectionPoller::ReadChannel(DaemonConnection* c) {
  bool open = Fill(c, kChannelReadMax);
  std::string& buf = c->buf_;
  while (buf.size() - c->off_ >= wire::kHeaderSize) {
    wire::FrameHeader h = wire::DecodeHeader(buf.data() + c->off_);
    if (h.length > wire::kMaxFrame) return false;
    if (buf.size() - c->off_ - wire::kHeaderSize < h.length) break;
    if (!Route(c, h, buf.data() + c->off_ + wire::kHeaderSize)) return false;
    c->off_ += wire::kHeaderSize + h.length;
  }
  if (!open) return false;  // the front closed the channel (after the requests it held)
  Arm(c, kReadEvents);
  return true;
}

void ConnectionPoller::OnEvent(DaemonConnection* c, uint32_t events) {
  c->watched_ = false;  // EPOLLONESHOT: disarmed by this event
  switch (c->kind_) {
    case DaemonConnection::Kind::kNew:
      if (!ReadFirstFrame(c)) CloseLocked(c);
      break;
    case DaemonConnection::Kind::kChannel:
      if (!ReadChannel(c)) CloseLocked(c);
      break;
    case DaemonConnection::Kind::kConnection:
      // Closed by the front. A busy one is re-armed when its request ends, and closes then.
      if (!c->busy_ && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) CloseLocked(c);
      break;
  }
}

bool ConnectionPoller::Rearm(DaemonConnection* conn, ChannelRequest* next) {
  std::lock_guard<std::mutex> lock(mu_);
  // The front sends nothing on a connection between a request's BODY_END and the next request.
  if (conn->off_ != conn->buf_.size()) {
    on_error_("protocol error: bytes after BODY_END before the response ended");
    CloseLocked(conn);
    return false;
  }
  if (stopping_) {
    CloseLocked(conn);
    return false;
  }
  auto it = pending_.find(conn->id_);
  if (it != pending_.end()) {
    *next = std::move(it->second);  // the connection stays busy, with the same owner
    next->conn = conn;
    pending_.erase(it);
    return true;
  }
  conn->busy_ = false;
  // Still armed since HELLO or an earlier request (the front did not close it): no system call.
  if (!conn->watched_) Arm(conn, kIdleEvents);
  return false;
}

void ConnectionPoller::Close(DaemonConnection* conn) {
  std::lock_guard<std::mutex> lock(mu_);
  CloseLocked(conn);
}

void ConnectionPoller::CloseLocked(DaemonConnection* c) {
  conns_.erase(c->serial_);
  if (c->kind_ == DaemonConnection::Kind::kConnection) {
    by_id_.erase(c->id_);
    pending_.erase(c->id_);
    if (closed_ids_.insert(c->id_).second) closed_order_.push_back(c->id_);
    if (closed_order_.size() > kClosedIdsKept) {
      closed_ids_.erase(closed_order_.front());
      closed_order_.pop_front();
    }
  }
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, c->fd_, nullptr);
  if (c->channel_) {
    ::shutdown(c->fd_, SHUT_RDWR);  // the descriptor closes with the last response using it
  } else {
    ::close(c->fd_);
  }
  if (conns_.empty()) closed_.notify_all();
  delete c;
}

void ConnectionPoller::ShutdownAll() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = true;
  std::vector<DaemonConnection*> idle;
  for (auto& [serial, c] : conns_) {
    if (!c->busy_) idle.push_back(c);
  }
  for (DaemonConnection* c : idle) CloseLocked(c);  // each notifies WaitAllClosed when the last goes
}

bool ConnectionPoller::WaitAllClosed(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return closed_.wait_until(lock, deadline, [&] { return conns_.empty(); });
}

size_t ConnectionPoller::Queued() {
  std::lock_guard<std::mutex> lock(mu_);
  return ready_.size();
}

void ConnectionPoller::StopWaiting() {
  uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
}

bool ConnectionPoller::Wait(ChannelRequest* req) {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!ready_.empty()) {
        *req = std::move(ready_.front());
        ready_.pop_front();
        return true;
      }
    }
    // One event at a time: a socket's frames are for the thread that takes it.
    struct epoll_event ev;
    int n = ::epoll_wait(epfd_, &ev, 1, -1);
    if (n < 0) {
      if (errno != EINTR) {
        on_error_(std::string("epoll_wait: ") + std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
      continue;
    }
    if (n == 0) continue;
    if (ev.data.u64 == 0) return false;  // stop_fd_
    std::lock_guard<std::mutex> lock(mu_);
    auto it = conns_.find(ev.data.u64);
    if (it != conns_.end()) OnEvent(it->second, ev.events);  // else: closed meanwhile
  }
}

}  // namespace pyhost
