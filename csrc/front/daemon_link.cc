#include "front/daemon_link.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "daemon/protocol.h"

namespace pyhost {

DaemonLink::DaemonLink(uint32_t id, CompletionPort* port, std::string socket_path)
    : id_(id), port_(port), path_(std::move(socket_path)) {}

void DaemonLink::Start() {
  evfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::thread([this] { Run(); }).detach();
}

void DaemonLink::Wake() {
  uint64_t one = 1;
  if (evfd_ >= 0) (void)!::write(evfd_, &one, sizeof one);
}

void DaemonLink::NotifyLocked(std::unique_lock<std::mutex>& lock) {
  if (notified_) return;
  notified_ = true;
  lock.unlock();
  port_->Post(this);
}

// Writes a frame from the loop thread when nothing is queued before it (one send(2), no I/O
// thread wake-up: measured, the eventfd wake per request was most of the front's overhead), and
// queues what the socket does not take now for the I/O thread.
void DaemonLink::WriteLocked(std::string frame) {
  size_t off = 0;
  if (out_frames_.empty() && connected_ && fd_ >= 0) {
    while (off < frame.size()) {
      ssize_t n = ::send(fd_, frame.data() + off, frame.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;  // EAGAIN, or broken: the I/O thread finds out either way
      }
      off += static_cast<size_t>(n);
    }
    if (off == frame.size()) return;
  }
  out_bytes_ += frame.size() - off;
  if (off) frame.erase(0, off);
  out_frames_.push_back(std::move(frame));
  Wake();
}

void DaemonLink::Send(std::string request_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!held_) {
    held_ = true;  // a request in flight keeps Node's loop alive
    port_->Hold();
  }
  in_request_ = true;
  // The I/O thread stopped reading at the previous response's high water: let it read again.
  if (unacked_ >= kOutputHighWater) Wake();
  unacked_ = 0;
  WriteLocked(std::move(request_bytes));
}

bool DaemonLink::Push(const char* data, size_t len) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_) return true;
  std::string frame(wire::kHeaderSize, '\0');
  wire::EncodeHeader({wire::kBody, 0, 0, static_cast<uint32_t>(len)}, &frame[0]);
  frame.append(data, len);
  WriteLocked(std::move(frame));
  if (out_bytes_ >= kInputHighWater) {
    input_paused_ = true;
    return false;
  }
  return true;
}

void DaemonLink::EndBody() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string frame(wire::kHeaderSize, '\0');
  wire::EncodeHeader({wire::kBodyEnd, 0, 0, 0}, &frame[0]);
  WriteLocked(std::move(frame));
}

void DaemonLink::Ack(size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  bool was_stopped = unacked_ >= kOutputHighWater;
  unacked_ = bytes > unacked_ ? 0 : unacked_ - bytes;
  // Only a reader stopped at the high water needs waking; otherwise it is already polling.
  if (was_stopped && unacked_ < kOutputHighWater) Wake();
}

void DaemonLink::Close() {
  if (held_) {
    held_ = false;
    port_->Release();
  }
  std::lock_guard<std::mutex> lock(mu_);
  closing_ = true;
  Wake();
}

bool DaemonLink::FlushWrites() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!out_frames_.empty()) {
    std::string& f = out_frames_.front();
    ssize_t n = ::send(fd_, f.data() + out_offset_, f.size() - out_offset_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    out_offset_ += static_cast<size_t>(n);
    out_bytes_ -= static_cast<size_t>(n);
    if (out_offset_ == f.size()) {
      out_frames_.erase(out_frames_.begin());
      out_offset_ = 0;
    }
  }
  if (input_paused_ && out_bytes_ < kInputHighWater / 4) {
    input_paused_ = false;
    pending_.resume_input = true;
    NotifyLocked(lock);
  }
  return true;
}

// Parses the frames in inbuf_ into pending_. The lock is not held on entry.
bool DaemonLink::ReadFrames() {
  char buf[65536];
  ssize_t n = ::read(fd_, buf, sizeof buf);
  if (n == 0) return false;
  if (n < 0) return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK;
  inbuf_.append(buf, static_cast<size_t>(n));
  size_t pos = 0;
  std::unique_lock<std::mutex> lock(mu_);
  bool any = false;
  while (inbuf_.size() - pos >= wire::kHeaderSize) {
    wire::FrameHeader h = wire::DecodeHeader(inbuf_.data() + pos);
    if (h.length > wire::kMaxFrame) return false;
    if (inbuf_.size() - pos - wire::kHeaderSize < h.length) break;
    const char* p = inbuf_.data() + pos + wire::kHeaderSize;
    switch (h.type) {
      case wire::kHead: {
        if (h.length < 8) return false;
        uint32_t rl = 0, hl = 0;
        std::memcpy(&rl, p, 4);  // little-endian hosts only (x86-64, arm64), as the daemon
        if (4 + rl + 4 > h.length) return false;
        std::memcpy(&hl, p + 4 + rl, 4);
        if (8 + rl + hl > h.length) return false;
        pending_.status = h.aux;
        pending_.reason.assign(p + 4, rl);
        pending_.headers.assign(p + 8 + rl, hl);
        break;
      }
      case wire::kData:
        if (!pending_.chunks.empty() && pending_.chunks.back().size() < 16384 && h.length < 16384) {
          pending_.chunks.back().append(p, h.length);
        } else {
          pending_.chunks.emplace_back(p, h.length);
        }
        unacked_ += h.length;
        break;
      case wire::kEnd:
        pending_.end = true;
        pending_.abort = h.flags & wire::kAbort;
        in_request_ = false;
        break;
      default:
        return false;
    }
    any = true;
    pos += wire::kHeaderSize + h.length;
  }
  inbuf_.erase(0, pos);
  if (any) NotifyLocked(lock);
  return true;
}

void DaemonLink::Run() {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
  bool connected = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    connected_ = connected;
  }
  if (connected) fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  bool alive = connected;
  while (alive) {
    bool want_write, want_read, closing;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing = closing_;
      want_write = !out_frames_.empty();
      // Backpressure: a slow client stops us reading, so the daemon's writes block.
      want_read = unacked_ < kOutputHighWater;
    }
    if (closing) break;
    if (want_write && !FlushWrites()) break;
    struct pollfd fds[2] = {{fd_, 0, 0}, {evfd_, POLLIN, 0}};
    if (want_read) fds[0].events |= POLLIN;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!out_frames_.empty()) fds[0].events |= POLLOUT;
    }
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      (void)!::read(evfd_, &v, sizeof v);
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (!ReadFrames()) alive = false;
    }
  }
  // The link is over: tell JS (once), unless it closed the link itself.
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!closing_) {
      pending_.lost = true;
      pending_.connected = connected;
      done_.store(true);
      NotifyLocked(lock);
      return;
    }
    done_.store(true);
  }
  // Closed by JS: nothing more to report; the port frees nothing (the table does).
}

bool DaemonLink::Finished() {
  std::lock_guard<std::mutex> lock(mu_);
  return done_.load() && !notified_;
}

bool DaemonLink::Deliver(Napi::Env env) {
  Output out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = false;
    out = std::move(pending_);
    pending_ = Output();
  }
  if ((out.end || out.lost) && held_) {
    held_ = false;
    port_->Release();
  }
  int flags = (out.end ? kLinkEnd : 0) | (out.abort ? kLinkAbort : 0) | (out.resume_input ? kLinkResumeInput : 0) |
              (out.lost ? kLinkLost : 0) | (out.connected ? kLinkConnected : 0);
  DispatchLinkOutput(env, this, out.status, out.reason, out.headers, out.chunks, flags);
  return false;  // the link lives on; the binding frees it when closed
}

}  // namespace pyhost
