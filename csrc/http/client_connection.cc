#include "http/client_connection.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstring>

namespace pyhost {
namespace {

bool PollFor(int fd, short events, int timeout_ms) {
  struct pollfd p = {fd, events, 0};
  for (;;) {
    int n = ::poll(&p, 1, timeout_ms > 0 ? timeout_ms : -1);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

void AddressStrings(const sockaddr_storage& sa, std::string* addr, std::string* port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (sa.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    *port = std::to_string(ntohs(in->sin_port));
  } else if (sa.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    *port = std::to_string(ntohs(in6->sin6_port));
  }
  *addr = text;
  // An IPv4 client of an IPv6 socket, as Node's address strings show it without the prefix.
  if (addr->rfind("::ffff:", 0) == 0 && addr->find('.') != std::string::npos) addr->erase(0, 7);
}

}  // namespace

ClientConnection::ClientConnection(int fd, uint64_t serial, size_t max_head_bytes)
    : parser(max_head_bytes), since(Clock::now()), fd_(fd), serial_(serial) {}

ClientConnection::~ClientConnection() { ::close(fd_); }

void ClientConnection::ReadAddresses() {
  sockaddr_storage sa = {};
  socklen_t len = sizeof sa;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) == 0) AddressStrings(sa, &local_addr, &local_port);
  len = sizeof sa;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&sa), &len) == 0) AddressStrings(sa, &remote_addr, &remote_port);
}

void ClientConnection::Consume(size_t n) {
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
}

ClientConnection::ReadResult ClientConnection::ReadSome() {
  if (!buf_) {
    cap_ = kReadSize;
    buf_.reset(new char[cap_]);  // not zeroed: only read bytes are ever looked at
  }
  if (end_ == cap_) {
    if (begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    } else {
      // Unconsumed bytes fill the buffer (pipelined requests): grow it.
      std::unique_ptr<char[]> bigger(new char[cap_ * 2]);
      std::memcpy(bigger.get(), buf_.get(), end_);
      buf_ = std::move(bigger);
      cap_ *= 2;
    }
  }
  for (;;) {
    size_t space = cap_ - end_;
    ssize_t n = ::recv(fd_, buf_.get() + end_, space, MSG_DONTWAIT);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      maybe_more_ = static_cast<size_t>(n) == space;
      return ReadResult::kData;
    }
    maybe_more_ = false;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return ReadResult::kWouldBlock;
    broken_ = true;
    return ReadResult::kClosed;
  }
}

ClientConnection::ReadResult ClientConnection::ReadInto(char* dst, size_t len, size_t* got) {
  for (;;) {
    ssize_t n = ::recv(fd_, dst, len, MSG_DONTWAIT);
    if (n > 0) {
      *got = static_cast<size_t>(n);
      maybe_more_ = true;  // the socket may hold more than was asked for
      return ReadResult::kData;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return ReadResult::kWouldBlock;
    broken_ = true;
    return ReadResult::kClosed;
  }
}

bool ClientConnection::WaitReadable(int timeout_ms) { return PollFor(fd_, POLLIN | POLLRDHUP, timeout_ms); }

bool ClientConnection::WriteAll(struct iovec* iov, size_t count, int timeout_ms, const std::function<void()>& before_wait) {
  bool waited = false;
  while (count > 0 && !broken_) {
    if (iov->iov_len == 0) {
      iov++;
      count--;
      continue;
    }
    struct msghdr msg = {};
    msg.msg_iov = iov;
    msg.msg_iovlen = count > IOV_MAX ? IOV_MAX : count;
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        broken_ = true;
        return false;
      }
      if (!waited && before_wait) before_wait();
      waited = true;
      if (!PollFor(fd_, POLLOUT, timeout_ms)) broken_ = true;
      continue;
    }
    size_t left = static_cast<size_t>(n);
    while (count > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      iov++;
      count--;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return !broken_;
}

bool ClientConnection::SendFile(int file_fd, int64_t offset, int64_t length, int timeout_ms, const std::function<void()>& before_wait) {
  bool waited = false;
  off_t off = static_cast<off_t>(offset);
  while (length > 0 && !broken_) {
    size_t chunk = static_cast<size_t>(std::min<int64_t>(length, 1 << 30));
    ssize_t n = ::sendfile(fd_, file_fd, &off, chunk);
    if (n > 0) {
      length -= n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!waited && before_wait) before_wait();
      waited = true;
      if (!PollFor(fd_, POLLOUT, timeout_ms)) broken_ = true;
      continue;
    }
    broken_ = true;  // the file shrank (n == 0) or the socket broke: the response is cut short
  }
  return !broken_;
}

}  // namespace pyhost
