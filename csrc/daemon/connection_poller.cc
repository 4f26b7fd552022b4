#include "daemon/connection_poller.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

namespace pyhost {

namespace {
constexpr size_t kReadChunk = 16 << 10;
// Idle connections wait for a REQUEST; one event each, then the owner re-arms (EPOLLONESHOT:
// no event reaches the poller while a worker owns the connection).
constexpr uint32_t kIdleEvents = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
}  // namespace

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
  ev.data.ptr = nullptr;
  if (stop_fd_ < 0 || ::epoll_ctl(epfd_, EPOLL_CTL_ADD, stop_fd_, &ev) != 0) {
    *err = std::string("eventfd: ") + std::strerror(errno);
    return false;
  }
  return true;
}

void ConnectionPoller::Arm(DaemonConnection* conn, int op) {
  struct epoll_event ev = {};
  ev.events = kIdleEvents;
  ev.data.ptr = conn;
  if (::epoll_ctl(epfd_, op, conn->fd_, &ev) != 0) {
    on_error_(std::string("epoll_ctl: ") + std::strerror(errno));
    Close(conn);
  }
}

void ConnectionPoller::Add(int fd) {
  auto* conn = new DaemonConnection(fd);
  {
    std::lock_guard<std::mutex> lock(mu_);
    conns_.insert(conn);
  }
  Arm(conn, EPOLL_CTL_ADD);
}

void ConnectionPoller::Rearm(DaemonConnection* conn) {
  // The front sends the next REQUEST only after this one's END, so nothing is buffered here.
  if (conn->off_ != conn->buf_.size()) {
    on_error_("protocol error: bytes after BODY_END before the response ended");
    return Close(conn);
  }
  Arm(conn, EPOLL_CTL_MOD);
}

void ConnectionPoller::Close(DaemonConnection* conn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    conns_.erase(conn);
    ::close(conn->fd_);  // under the lock: ShutdownAll never sees a reused descriptor
    if (conns_.empty()) closed_.notify_all();
  }
  delete conn;
}

void ConnectionPoller::ShutdownAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (DaemonConnection* c : conns_) ::shutdown(c->fd_, SHUT_RDWR);
}

bool ConnectionPoller::WaitAllClosed(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return closed_.wait_until(lock, deadline, [&] { return conns_.empty(); });
}

bool ConnectionPoller::ReadRequest(DaemonConnection* conn, wire::FrameHeader* head, std::string* payload) {
  std::string& buf = conn->buf_;
  for (;;) {
    size_t have = buf.size() - conn->off_;
    if (have >= wire::kHeaderSize) {
      wire::FrameHeader h = wire::DecodeHeader(buf.data() + conn->off_);
      if (h.type != wire::kRequest || h.length > wire::kMaxFrame) {
        on_error_("protocol error: expected a REQUEST frame, got type " + std::to_string(h.type));
        Close(conn);
        return false;
      }
      if (have - wire::kHeaderSize >= h.length) {
        payload->assign(buf, conn->off_ + wire::kHeaderSize, h.length);
        *head = h;
        conn->off_ += wire::kHeaderSize + h.length;
        if (conn->off_ == buf.size()) {
          buf.clear();
          conn->off_ = 0;
        }
        return true;
      }
    }
    if (conn->off_ > 0) {
      buf.erase(0, conn->off_);
      conn->off_ = 0;
    }
    char chunk[kReadChunk];
    ssize_t n = ::recv(conn->fd_, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buf.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      Arm(conn, EPOLL_CTL_MOD);
      return false;
    }
    Close(conn);  // the front closed it (idle connections end this way), or it broke
    return false;
  }
}

void ConnectionPoller::StopWaiting() {
  uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
}

bool ConnectionPoller::Wait(DaemonConnection** conn, wire::FrameHeader* head, std::string* payload) {
  for (;;) {
    // One event at a time: a connection's frame is for the thread that takes it.
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
    auto* c = static_cast<DaemonConnection*>(ev.data.ptr);
    if (!c) return false;  // stop_fd_
    if (ReadRequest(c, head, payload)) {
      *conn = c;
      return true;
    }
  }
}

}  // namespace pyhost
