// A non-blocking UNIX socket from the front to a daemon process, on Node's loop thread: connect
// (retried while the daemon's accept backlog is full), a uv_poll watch, and a close that lets
// libuv finish with its handles before the descriptor goes. Used by a connection (DaemonLink)
// and by a request channel (RequestChannel); neither keeps Node's loop alive by itself.
#pragma once
#include <uv.h>

#include <string>

namespace pyhost {

class DaemonSocket {
 public:
  struct Owner {
    virtual ~Owner() = default;
    // Connected (ok), or no daemon listens there (after retries). `in_connect`: called from
    // inside Connect(), not from the retry timer.
    virtual void OnConnect(bool ok, bool in_connect) = 0;
    virtual void OnPoll(int status, int events) = 0;
    // After Close(): libuv is done with the handles and the descriptor is closed.
    virtual void OnReleased() {}
  };

  explicit DaemonSocket(Owner* owner) : owner_(owner) {}

  void Connect(uv_loop_t* loop, const std::string& path);
  // Watches `events` (UV_READABLE, UV_WRITABLE; 0 stops); libuv is told only of a change.
  void Watch(int events);
  void Close();
  // Appends what the socket has now to `in`; false at end of stream or on an error (after
  // appending what came before it).
  bool ReadAvailable(std::string* in);
  int fd() const { return fd_; }
  bool released() const { return closing_ && handles_closed_ == handles_open_; }

 private:
  static void OnRetry(uv_timer_t* handle);
  static void OnPollEvent(uv_poll_t* handle, int status, int events);
  void TryConnect(bool in_connect);

  Owner* owner_;
  std::string path_;
  int fd_ = -1;
  uv_poll_t poll_;
  uv_timer_t retry_;
  int handles_open_ = 0, handles_closed_ = 0;
  int watched_ = 0;
  bool closing_ = false;
  int connect_attempts_ = 0;
};

}  // namespace pyhost
