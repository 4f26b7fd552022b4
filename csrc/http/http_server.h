// The native HTTP front: accepts connections on listening sockets, parses HTTP/1.1 (llhttp) and
// runs each request on the thread that parsed it, in the application's group (no JavaScript, no
// hand-off between threads). A pool of serving threads shares one epoll set; by default they
// take turns as the listener (listener_role.h): under load one thread serves request after
// request holding the GIL, and another takes over only when it is away for long. With
// `eager` (own-GIL replicas) every thread waits for work at once, so requests run in parallel.
// Keep-alive and pipelining are served in order per connection; idle connections are swept for
// the head and keep-alive timeouts. Per request: one recv, one sendmsg, and an epoll_wait shared
// by the connections ready at once.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/app_runner.h"
#include "http/client_connection.h"
#include "http/listener_role.h"
#include "http/server_options.h"

namespace pyhost {

class HttpServer {
 public:
  using Clock = std::chrono::steady_clock;

  HttpServer(HttpServerOptions opts, bool eager);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Starts the serving threads. False (and why) if epoll or a thread is not to be had.
  bool Start(std::string* err);
  // Graceful stop, first step: no new connections (the listening sockets close), connections idle
  // between requests close, requests in flight (and ones still arriving on connections accepted
  // already) are served and their connections close after them.
  void StopAccepting();
  // Every connection is cut and the serving threads end; waits for them until `deadline`. True
  // if they all ended (a thread still in Python past it is left behind).
  bool Shutdown(Clock::time_point deadline);

  struct Stats {
    uint64_t requests = 0;  // answered since the start
    int inflight = 0;       // being served now
    int connections = 0;    // open now
    bool exhausted = false;  // max_requests reached: no longer accepting
  };
  Stats stats();
  // Called (on a serving thread) whenever the last request in flight ends. Set before Start.
  void set_on_idle(std::function<void()> fn) { on_idle_ = std::move(fn); }

 private:
  void ServeLoop();
  // As the listener: the next connection with bytes to read (owned by the caller from then on),
  // or nullptr when stopping.
  ClientConnection* NextConnection();
  void Accept(int listen_fd);
  void Sweep(Clock::time_point now);
  // Serves the connection's requests until it is idle (re-armed) or closed.
  void Serve(ClientConnection* c);
  // Answers one parsed request; true if the connection may carry another.
  bool HandleRequest(ClientConnection* c);
  bool RunApp(ClientConnection* c, const HttpRoute& route, const std::string& host, const std::string& script_name,
              const std::string& path_info, const std::string& query, bool keep_alive, int* status, int64_t* bytes);
  // The owner lets go of an idle connection (it goes back to waiting for an edge); false if bytes
  // came meanwhile and the owner must go on reading.
  bool Release(ClientConnection* c);
  void Close(ClientConnection* c);
  void CloseLocked(ClientConnection* c);
  // A whole response of the front itself; false if it could not be written.
  bool Answer(ClientConnection* c, int status, const char* reason, bool keep_alive);
  void LogAccess(ClientConnection* c, int status, int64_t bytes);

  HttpServerOptions opts_;
  bool eager_;
  AppRunner runner_;
  ListenerRole role_;
  int epfd_ = -1;
  int stop_fd_ = -1;  // an eventfd, readable once stopping (level-triggered: wakes every waiter)
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<uint64_t, ClientConnection*> conns_;  // by serial (epoll names them so)
  std::deque<uint64_t> ready_;  // connections with an event, waiting for a thread
  std::atomic<uint64_t> next_serial_{1};
  bool accepting_ = true;
  bool stopping_ = false;
  int threads_alive_ = 0;
  Clock::time_point next_sweep_;
  std::chrono::milliseconds sweep_every_;
  std::atomic<int> inflight_{0};
  std::atomic<uint64_t> requests_{0};
  std::function<void()> on_idle_;
};

}  // namespace pyhost
