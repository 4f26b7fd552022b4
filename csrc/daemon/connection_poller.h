// The front's sockets to a daemon process (protocol.h): its request channel and its
// connections. Wait() returns the next request: the channel is read in batches (every REQUEST
// it holds goes to a queue, and the waiters take them from there without a system call), and
// the caller owns the request's connection until Rearm or Close (it reads the body from it and
// writes the response to it, or to the channel). Several threads may wait at once.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "wire/protocol.h"

namespace pyhost {

// The write side of a request channel, shared by the requests answered on it: its descriptor
// closes with the last of them, so a response is never written to a reused descriptor.
class ResponseChannel {
 public:
  explicit ResponseChannel(int fd) : fd_(fd) {}
  ~ResponseChannel();
  // Writes one RESPONSE frame (whole, after any other thread's) holding `iov`; blocks while the
  // socket is full. `release_gil` is called before any wait (the caller restores the GIL after).
  // False: channel broken.
  bool Write(uint32_t conn_id, struct iovec* iov, size_t count, const std::function<void()>& release_gil);

 private:
  int fd_;
  std::mutex mu_;
};

class DaemonConnection {
 public:
  int fd() const { return fd_; }
  uint32_t id() const { return id_; }
  // Exactly `len` bytes: first those read ahead, then from the socket (blocking; call without
  // the GIL). False if the connection broke.
  bool ReadFull(char* buf, size_t len);

 private:
  friend class ConnectionPoller;
  enum class Kind { kNew, kChannel, kConnection };
  DaemonConnection(int fd, uint64_t serial) : fd_(fd), serial_(serial) {}
  int fd_;
  uint64_t serial_;  // names it in epoll events (never reused, unlike pointers)
  Kind kind_ = Kind::kNew;
  uint32_t id_ = 0;    // the front's id (HELLO)
  bool busy_ = false;  // a request owns it
  bool watched_ = false;  // armed for kIdleEvents, no event since (EPOLLONESHOT: still armed)
  std::string buf_;    // read ahead, [off_, size) not consumed yet
  size_t off_ = 0;
  std::shared_ptr<ResponseChannel> channel_;  // kChannel
};

// A request taken from a channel.
struct ChannelRequest {
  DaemonConnection* conn = nullptr;
  std::shared_ptr<ResponseChannel> channel;
  wire::FrameHeader head;
  std::string fields;  // the REQUEST payload after the connection id
};

class ConnectionPoller {
 public:
  using ErrorHandler = std::function<void(const std::string& message)>;

  explicit ConnectionPoller(ErrorHandler on_error) : on_error_(std::move(on_error)) {}

  // False (and why) if epoll is unavailable.
  bool Start(std::string* err);
  // Blocks until a request is ready (the caller owns its connection from then on), or returns
  // false once StopWaiting was called and no request is left.
  bool Wait(ChannelRequest* req);
  // Every Wait, now and later, returns false once the queue is empty.
  void StopWaiting();
  // A newly accepted socket: its first frame says whether it is a channel or a connection.
  void Add(int fd);
  // The request on `conn` ended: the connection idles until the channel names it again. True
  // (and `next`) if its next request came meanwhile: the caller, still its owner, serves it.
  bool Rearm(DaemonConnection* conn, ChannelRequest* next);
  // The connection is done (broken, protocol error, stopping): close it.
  void Close(DaemonConnection* conn);
  // Stopping: closes every channel and idle connection; busy ones close as their request ends.
  void ShutdownAll();
  // Waits until every socket has closed, or the deadline passes.
  bool WaitAllClosed(std::chrono::steady_clock::time_point deadline);
  // Requests read from a channel and not taken yet.
  size_t Queued();

 private:
  // Each with mu_ held.
  void OnEvent(DaemonConnection* c, uint32_t events);
  bool ReadFirstFrame(DaemonConnection* c);
  bool ReadChannel(DaemonConnection* c);
  bool Route(DaemonConnection* channel, const wire::FrameHeader& h, const char* payload);
  void Hello(DaemonConnection* c, uint32_t id);
  void Arm(DaemonConnection* c, uint32_t events);
  void CloseLocked(DaemonConnection* c);
  // Fills `conn->buf_` from the socket until EAGAIN or `max` bytes; false at EOF or error.
  static bool Fill(DaemonConnection* c, size_t max);

  ErrorHandler on_error_;
  int epfd_ = -1;
  int stop_fd_ = -1;  // an eventfd, readable once stopping (level-triggered: wakes every waiter)
  bool stopping_ = false;
  std::mutex mu_;
  std::condition_variable closed_;
  uint64_t next_serial_ = 1;
  std::unordered_map<uint64_t, DaemonConnection*> conns_;    // by serial
  std::unordered_map<uint32_t, DaemonConnection*> by_id_;    // connections, by the front's id
  std::unordered_map<uint32_t, ChannelRequest> pending_;     // for a connection not here or busy yet
  std::unordered_set<uint32_t> closed_ids_;                  // recently closed (their requests are dropped)
  std::deque<uint32_t> closed_order_;
  std::deque<ChannelRequest> ready_;
};

}  // namespace pyhost
