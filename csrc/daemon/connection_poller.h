// The front's connections to a daemon process. Wait() waits on all idle connections at once
// (epoll) and returns the next REQUEST frame; the caller then owns that connection until its
// request ends (the connection is disarmed meanwhile: the thread serving the request reads the
// body and writes the response itself), and gives it back with Rearm or Close. Several threads
// may wait at once: each connection's frame goes to one of them.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "daemon/protocol.h"

namespace pyhost {

class DaemonConnection {
 public:
  int fd() const { return fd_; }
  // Exactly `len` bytes: first those the poller read ahead, then from the socket (blocking;
  // call without the GIL). False if the connection broke.
  bool ReadFull(char* buf, size_t len);

 private:
  friend class ConnectionPoller;
  explicit DaemonConnection(int fd) : fd_(fd) {}
  int fd_;
  std::string buf_;  // read ahead, [off_, size) not consumed yet
  size_t off_ = 0;
};

class ConnectionPoller {
 public:
  using ErrorHandler = std::function<void(const std::string& message)>;

  explicit ConnectionPoller(ErrorHandler on_error) : on_error_(std::move(on_error)) {}

  // False (and why) if epoll is unavailable.
  bool Start(std::string* err);
  // Blocks until a connection has a whole REQUEST frame (the caller owns `conn` from then on),
  // or returns false once StopWaiting was called.
  bool Wait(DaemonConnection** conn, wire::FrameHeader* head, std::string* payload);
  // Every Wait, now and later, returns false.
  void StopWaiting();
  // A newly accepted connection: the poller waits for its first REQUEST.
  void Add(int fd);
  // The request on `conn` ended: wait for the next one.
  void Rearm(DaemonConnection* conn);
  // The connection is done (broken, protocol error, stopping): close it.
  void Close(DaemonConnection* conn);
  // Stopping: shuts down every socket; idle connections then close, busy ones end with their
  // request.
  void ShutdownAll();
  // Waits until every connection has closed, or the deadline passes.
  bool WaitAllClosed(std::chrono::steady_clock::time_point deadline);

 private:
  // Reads what `conn` has: true with a whole REQUEST frame, else false (re-armed or closed).
  bool ReadRequest(DaemonConnection* conn, wire::FrameHeader* head, std::string* payload);
  void Arm(DaemonConnection* conn, int op);

  ErrorHandler on_error_;
  int epfd_ = -1;
  int stop_fd_ = -1;  // an eventfd, readable once stopping (level-triggered: wakes every waiter)
  std::mutex mu_;
  std::condition_variable closed_;
  std::set<DaemonConnection*> conns_;
};

}  // namespace pyhost
