// One connection from the front to a daemon process, in native code on Node's loop thread: the
// socket is watched with a uv_poll handle, its request goes on the process's request channel
// (request_channel.h), body frames are written with send(2) as JS hands them over, and response
// frames (from the socket, or whole from the channel) are handed to JS as they arrive. No thread
// of its own: measured, an I/O thread per connection cost ~2 context switches per request (5.6
// per request in daemon mode against 1.2 embedded), and the JS net.Socket path cost the front
// about as much as the whole embedded request.
#pragma once
#include <napi.h>
#include <uv.h>

#include <string>
#include <vector>

#include "front/daemon_socket.h"
#include "napi/port.h"

namespace pyhost {

class DaemonLink;
class RequestChannel;

// front_addon.cc: hands a link's output to JS (loop thread).
void DispatchLinkOutput(Napi::Env env, DaemonLink* link, int status, const std::string& reason,
                        const std::string& headers, std::vector<std::string>& chunks, int flags);

// Flags of the link dispatch.
constexpr int kLinkEnd = 1, kLinkAbort = 2, kLinkResumeInput = 4, kLinkLost = 32, kLinkConnected = 64;

// Every method runs on the loop thread. Deliverable: what happens inside a call from JS (a
// connect failing in open(), a write failing in send(), input to resume) reaches JS through the
// completion port on the next turn of the loop, never re-entrantly.
class DaemonLink : public Deliverable, private DaemonSocket::Owner {
 public:
  static constexpr size_t kInputHighWater = 1 << 20;    // pause the client above this
  static constexpr size_t kOutputHighWater = 512 << 10;  // stop reading the daemon above this

  // `channel`: the request channel to the same daemon process (requests go there).
  DaemonLink(uint32_t id, CompletionPort* port, std::string socket_path, RequestChannel* channel);

  void Start(uv_loop_t* loop);            // connects (non-blocking; retried while the backlog is full)
  void Send(const char* frame, size_t len);  // the REQUEST frame, as encoded by JS: on the channel
  bool Push(const char* data, size_t len);  // a BODY frame; false: pause the source
  void EndBody();
  void Ack(size_t bytes);  // the client took `bytes` of delivered body
  void Close();            // cancel the request or drop the link
  bool Deliver(Napi::Env env) override;  // deferred output
  uint32_t id() const { return id_; }
  // The handles are closed and nothing waits for delivery: the link may be freed.
  bool Finished() const { return sock_.released() && !posted_; }
  // From the channel (loop thread, not inside a JS call): a whole response; the channel closed
  // (ChannelClosed) or broke, which loses the request (ChannelLost).
  void OnChannelResponse(const char* data, size_t len);
  void ChannelClosed();
  void ChannelLost();

 private:
  struct Output {
    int status = 0;  // 0: no head
    std::string reason, headers;
    std::vector<std::string> chunks;
    bool end = false, abort = false;
  };
  // DaemonSocket::Owner. `in_connect`/`from_js`: inside a JS call into the addon, where output
  // to JS must be deferred.
  void OnConnect(bool ok, bool in_connect) override;
  void OnPoll(int status, int events) override;
  void Write(std::string frame);  // now if nothing is queued before it, else queued (from JS)
  bool Flush(bool from_js);       // false: connection broken
  bool ReadFrames();              // false: the daemon closed the connection or broke framing
  // Response frames into out_, up to END; `used`: bytes parsed; false: bad framing.
  bool ParseFrames(const char* data, size_t size, size_t* used, bool* any);
  void Emit(int extra_flags);     // hands out_ (and extra flags) to JS
  void Lost(bool defer);          // the connection is gone: tell JS once, stop
  void Defer(int flags);          // output flags for JS on the next turn of the loop
  void UpdatePoll();
  void Teardown();
  void ReleaseHold();

  uint32_t id_;
  CompletionPort* port_;
  Napi::Env env_;
  std::string path_;
  RequestChannel* channel_;  // null once the channel closed
  DaemonSocket sock_{this};
  bool connected_ = false;
  bool closing_ = false;   // Close() or Lost(): no more I/O, no more output to JS
  bool posted_ = false;    // deferred output waits in the port
  int deferred_flags_ = 0;
  bool held_ = false;      // the port is held for a request in flight

  std::vector<std::string> out_frames_;  // to write, in order; the first partly written
  size_t out_offset_ = 0;
  size_t out_bytes_ = 0;
  bool input_paused_ = false;
  size_t unacked_ = 0;  // response body bytes delivered to JS and not yet taken by the client
  std::string inbuf_;
  Output out_;
};

}  // namespace pyhost
