// One connection from the front to a daemon process, in native code: an I/O thread per
// connection writes the request and its body frames and reads the response frames, and the
// response reaches JS through the completion port, batched, as an embedded request's does. The
// front's event loop then does no socket work for daemons (measured: the JS net.Socket path
// cost the front about as much as the whole embedded request).
#pragma once
#include <napi.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "node/port.h"

namespace pyhost {

class DaemonLink;

// front_addon.cc: hands a link's output to JS (loop thread).
void DispatchLinkOutput(Napi::Env env, DaemonLink* link, int status, const std::string& reason,
                        const std::string& headers, std::vector<std::string>& chunks, int flags);

// Flags of the link dispatch.
constexpr int kLinkEnd = 1, kLinkAbort = 2, kLinkResumeInput = 4, kLinkLost = 32, kLinkConnected = 64;

class DaemonLink : public Deliverable {
 public:
  static constexpr size_t kInputHighWater = 1 << 20;    // pause the client above this
  static constexpr size_t kOutputHighWater = 512 << 10;  // stop reading the daemon above this

  DaemonLink(uint32_t id, CompletionPort* port, std::string socket_path);

  // Loop thread.
  void Start();  // connects in the background
  void Send(std::string request_bytes);  // REQUEST (and BODY_END) frames, as encoded by JS
  bool Push(const char* data, size_t len);  // a BODY frame; false: pause the source
  void EndBody();
  void Ack(size_t bytes);  // the client took `bytes` of delivered body
  void Close();            // cancel the request or drop the link; the I/O thread ends
  bool Deliver(Napi::Env env) override;
  uint32_t id() const { return id_; }
  // The I/O thread has ended and nothing is waiting for delivery: the link may be freed.
  bool Finished();

 private:
  struct Output {
    int status = 0;  // 0: no head
    std::string reason, headers;
    std::vector<std::string> chunks;
    bool end = false, abort = false, resume_input = false, lost = false, connected = false;
  };
  void Run();
  void Wake();
  void WriteLocked(std::string frame);  // mu_ held
  bool ReadFrames();                 // false: the daemon closed the connection or broke framing
  bool FlushWrites();                // writes what can be written now; false: connection broken
  void NotifyLocked(std::unique_lock<std::mutex>& lock);

  uint32_t id_;
  CompletionPort* port_;
  std::string path_;
  int fd_ = -1;
  int evfd_ = -1;

  std::mutex mu_;
  // To write (from JS): frames queued in order, and how much of the first is written.
  std::vector<std::string> out_frames_;
  size_t out_offset_ = 0;
  size_t out_bytes_ = 0;
  bool input_paused_ = false;
  bool closing_ = false;
  size_t unacked_ = 0;
  // Read (for JS).
  Output pending_;
  bool notified_ = false;
  bool connected_ = false;
  bool in_request_ = false;  // between Send and END
  // I/O thread only.
  std::string inbuf_;
  std::atomic<bool> done_{false};
  bool held_ = false;  // loop thread only: the port is held for a request in flight
};

}  // namespace pyhost
