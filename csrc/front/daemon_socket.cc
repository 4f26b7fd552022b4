#include "front/daemon_socket.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace pyhost {

namespace {
constexpr int kConnectRetries = 200;  // x 10 ms: a daemon's full accept backlog, for 2 s at most
constexpr int kConnectRetryMs = 10;
}  // namespace

void DaemonSocket::Connect(uv_loop_t* loop, const std::string& path) {
  path_ = path;
  uv_timer_init(loop, &retry_);
  retry_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&retry_));
  handles_open_++;
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) return owner_->OnConnect(false, true);
  uv_poll_init(loop, &poll_, fd_);
  poll_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&poll_));
  handles_open_++;
  TryConnect(true);
}

void DaemonSocket::TryConnect(bool in_connect) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return owner_->OnConnect(true, in_connect);
  // A UNIX socket answers EAGAIN when the listener's backlog is full: try again shortly.
  if ((errno == EAGAIN || errno == EINTR) && ++connect_attempts_ < kConnectRetries) {
    uv_timer_start(&retry_, &DaemonSocket::OnRetry, kConnectRetryMs, 0);
    return;
  }
  owner_->OnConnect(false, in_connect);
}

void DaemonSocket::OnRetry(uv_timer_t* handle) {
  auto* self = static_cast<DaemonSocket*>(handle->data);
  if (!self->closing_) self->TryConnect(false);
}

void DaemonSocket::Watch(int events) {
  if (closing_ || handles_open_ < 2 || events == watched_) return;
  watched_ = events;
  if (events) {
    uv_poll_start(&poll_, events, &DaemonSocket::OnPollEvent);
  } else {
    uv_poll_stop(&poll_);
  }
}

void DaemonSocket::OnPollEvent(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<DaemonSocket*>(handle->data);
  if (!self->closing_) self->owner_->OnPoll(status, events);
}

bool DaemonSocket::ReadAvailable(std::string* in) {
  char buf[64 << 10];  // not in->resize(): that would zero the chunk on every read
  for (;;) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n > 0) {
      in->append(buf, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof buf) return true;  // drained
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

void DaemonSocket::Close() {
  if (closing_) return;
  closing_ = true;
  auto closed = [](uv_handle_t* h) {
    auto* self = static_cast<DaemonSocket*>(h->data);
    if (++self->handles_closed_ < self->handles_open_) return;
    if (self->fd_ >= 0) ::close(self->fd_);  // only once libuv is done with it
    self->fd_ = -1;
    self->owner_->OnReleased();
  };
  if (handles_open_ == 0) return owner_->OnReleased();
  uv_close(reinterpret_cast<uv_handle_t*>(&retry_), closed);
  if (handles_open_ >= 2) {
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_), closed);
  } else if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

}  // namespace pyhost
