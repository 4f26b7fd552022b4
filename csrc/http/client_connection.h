// A client's connection to the native front: its non-blocking socket, the bytes read and not yet
// parsed, its request parser, and what the idle sweep needs (since when it waits, and for what).
// One thread owns it at a time (the one serving it); the server's lock guards the hand-overs.
#pragma once
#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http/request_parser.h"

namespace pyhost {

class ClientConnection {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kReadSize = 64 << 10;

  ClientConnection(int fd, uint64_t serial, size_t max_head_bytes);
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  int fd() const { return fd_; }
  uint64_t serial() const { return serial_; }

  // ---- Reading ----
  // Bytes read and not consumed yet.
  const char* data() const { return buf_.get() + begin_; }
  size_t size() const { return end_ - begin_; }
  void Consume(size_t n);
  enum class ReadResult { kData, kWouldBlock, kClosed };
  // Reads what the socket has (up to kReadSize) after the unconsumed bytes; never blocks.
  ReadResult ReadSome();
  // The last read filled the space it had: the socket may hold more (edge-triggered epoll will
  // not say so again).
  bool maybe_more() const { return maybe_more_; }
  // Reads up to `len` bytes straight into `dst` (after the unconsumed ones are taken: call only
  // with size() == 0); never blocks. `*got` is the count for kData.
  ReadResult ReadInto(char* dst, size_t len, size_t* got);
  // Waits until the socket is readable; false on timeout (timeout_ms <= 0: no limit).
  bool WaitReadable(int timeout_ms);

  // ---- Writing (the thread serving the connection) ----
  // Writes every byte of `iov`; waits (after calling `before_wait` once, which releases the
  // GIL) while the socket is full. False: the client is gone or took nothing for
  // `timeout_ms` (then the connection is broken and closes).
  bool WriteAll(struct iovec* iov, size_t count, int timeout_ms, const std::function<void()>& before_wait);
  // Sends `length` bytes of `file_fd` from `offset` with sendfile(2), waiting likewise.
  bool SendFile(int file_fd, int64_t offset, int64_t length, int timeout_ms, const std::function<void()>& before_wait);
  bool broken() const { return broken_; }
  void MarkBroken() { broken_ = true; }

  // ---- Addresses (at accept) ----
  std::string local_addr, local_port, remote_addr, remote_port;
  void ReadAddresses();

  RequestParser parser;
  int requests = 0;                // requests answered on it
  Clock::time_point since;         // accepted, or the last response ended, or its head started
  bool head_started = false;       // bytes of the next request arrived (its head is partial)
  bool owned = false;              // a thread serves it, or it waits in the ready queue (server lock)
  bool pending = false;            // an edge came while owned (server lock)
  bool closing = false;            // the server is stopping: close once idle (server lock)

 private:
  int fd_;
  uint64_t serial_;
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0, begin_ = 0, end_ = 0;
  bool broken_ = false;
  bool maybe_more_ = false;
};

}  // namespace pyhost
