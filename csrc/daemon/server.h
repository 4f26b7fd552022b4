// The WSGI server of a daemon process (the default mode): the front's request channel and
// connections on its UNIX socket (wire/protocol.h), served by a pool of threads; the thread that
// holds the listener role (http/listener_role.h) waits for the next request and runs the application
// itself. The front supervises (starts, recycles, restarts); the server only executes. With
// --http-config the process's own HTTP front (http/daemon_http_front.h) serves instead, from the
// groups kept here.
#pragma once
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/connection_poller.h"
#include "http/daemon_http_front.h"
#include "http/listener_role.h"
#include "python/group.h"

namespace pyhost {

class DaemonServer {
 public:
  DaemonServer(DaemonConfig cfg, int listen_fd);

  // Starts the poller and the serving threads; false after printing "FAILED <why>".
  bool Start();
  // Takes connections until Stop.
  void AcceptLoop();
  // Requests in flight finish (within the shutdown timeout), connections close, Python is
  // finalised, the process exits. A second call returns at once.
  void Stop();
  // The interpreters in use (for the watchdog and stack dumps).
  std::vector<std::shared_ptr<Interp>> Interpreters();
  const std::atomic<bool>& stopping() const { return stopping_; }

 private:
  std::shared_ptr<Group> GroupFor(const std::vector<std::string>& f);
  std::shared_ptr<Group> GroupNamed(const std::string& name, InterpKind kind, bool strict);
  // One of the serving threads.
  void ServeLoop();
  // Serves a request; false if its connection cannot carry another one.
  bool Serve(ChannelRequest req);

  DaemonConfig cfg_;
  int listen_fd_;
  ConnectionPoller poller_;
  ListenerRole listener_;
  std::unique_ptr<DaemonHttpFront> http_;  // --http-config: its threads serve instead
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Group>> groups_;
  int busy_ = 0;  // requests being served
  int serving_threads_ = 0;
};

}  // namespace pyhost
