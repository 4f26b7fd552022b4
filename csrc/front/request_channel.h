// The front's request channel to one daemon process (protocol.h), on Node's loop thread. Every
// REQUEST of a loop turn is queued and written in one send(2) just before the loop polls again
// (FlushAll, from a uv_prepare handle), and the daemon answers small responses on it, read many
// per read(2). Measured before it existed: a UNIX-socket write and a read per request were most
// of the front's extra CPU in daemon mode, against embedded mode's one wake-up per loop turn.
#pragma once
#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>
#include <vector>

#include "front/daemon_socket.h"

namespace pyhost {

class DaemonLink;

class RequestChannel : private DaemonSocket::Owner {
 public:
  // Finds a link by id (null once closed).
  using LinkLookup = std::function<DaemonLink*(uint32_t id)>;

  // `flush_list`: the environment's channels with frames queued.
  // `on_closing`: the channel closes (it is freed once libuv is done with it).
  RequestChannel(uv_loop_t* loop, std::string socket_path, std::vector<RequestChannel*>* flush_list,
                 LinkLookup lookup, std::function<void(RequestChannel*)> on_closing);

  // Opens the socket and connects (retried while the daemon's backlog is full).
  void Start();
  // False if the channel is closing already (its daemon refused it): the link goes without.
  bool Attach(DaemonLink* link) {
    if (!closing_) links_.insert(link);
    return !closing_;
  }
  // The last link gone closes the channel.
  void Detach(DaemonLink* link);
  // Queues a REQUEST frame (as encoded by JS, with room for the connection id after the header).
  void Send(uint32_t link_id, const char* frame, size_t len);
  // Writes the queued frames of every channel in `list` (loop thread, before polling).
  static void FlushAll(std::vector<RequestChannel*>* list);
  const std::string& path() const { return path_; }

 private:
  void OnConnect(bool ok, bool in_connect) override;
  void OnPoll(int status, int events) override;
  void OnReleased() override { delete this; }
  bool Flush();  // false: broken
  bool ReadResponses();
  void UpdatePoll();
  // The channel broke: every link on it is lost (its request cannot be answered any more).
  void Lost();
  // Closes: no more I/O; its links forget it.
  void Teardown();

  uv_loop_t* loop_;
  std::string path_;
  std::vector<RequestChannel*>* flush_list_;
  LinkLookup lookup_;
  std::function<void(RequestChannel*)> on_closing_;
  DaemonSocket sock_{this};
  bool connected_ = false;
  bool closing_ = false;
  bool dirty_ = false;  // in the flush list
  bool write_blocked_ = false;  // the socket was full: wait until writable
  std::string out_;  // to write; [out_off_, size) left
  size_t out_off_ = 0;
  std::string in_;
  std::unordered_set<DaemonLink*> links_;
};

}  // namespace pyhost
