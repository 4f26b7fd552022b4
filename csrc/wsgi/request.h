// One WSGI request as the core sees it: what came in (head, streamed body), what goes out
// (status, headers, body chunks, sendfile), and the hand-offs between the host's thread and the
// worker that runs the application. The host (Node binding, daemon) subclasses it to be told
// when output is ready. No Python here; gateway.cc runs the application.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "python/job.h"

namespace pyhost {

// Which WSGI callable serves the request.
struct AppSpec {
  std::string target;                 // script path, or "pkg.module:callable" when is_module
  bool is_module = false;
  std::string callable = "application";
  bool reload = false;                // reload the script when its mtime changes
};

struct RequestHead {
  std::string method;
  std::string script_name;  // latin-1 (one byte per char), already percent-decoded
  std::string path_info;    // latin-1, percent-decoded
  std::string query;        // raw
  std::string request_uri;  // raw, as received
  std::string protocol;     // e.g. HTTP/1.1
  std::string scheme;       // http or https
  std::string server_name, server_port;
  std::string local_addr;
  std::string remote_addr, remote_port;
  std::string headers;      // "name\nvalue\nname\nvalue..." (latin-1), as received
  std::string process_group, application_group;
  bool pass_authorization = false;
  bool has_body = false;
  bool multiprocess = false;
  bool multithread = true;
  std::vector<std::pair<std::string, std::string>> extra;  // more environ str entries
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// "name\nvalue\nname\nvalue": how the hosts hand a header list on (one string, no framing).
std::string JoinHeaders(const HeaderList& headers);

// What the host takes when notified.
struct RequestOutput {
  bool has_head = false;
  int status = 0;
  std::string reason;
  HeaderList headers;
  std::vector<std::string> chunks;
  size_t chunk_bytes = 0;
  bool resume_input = false;
  bool sendfile = false;
  int sendfile_fd = -1;
  int64_t sendfile_offset = 0, sendfile_length = -1;  // -1: to end of file
  bool end = false;
  bool abort_connection = false;  // error after the head was sent: cut the response short
  // The application could not load because an extension module refuses sub-interpreters: the
  // request is suspended until the host resubmits it (after moving the group) or fails it.
  std::string refused_module;
  std::string refused_message;
  // With `end`: the request's hard deadline interrupted it (python/deadlines.h).
  InterruptKind interrupted = InterruptKind::kNone;
  // The application was interrupted and did not end within the grace period; it still runs.
  bool stuck = false;
};

class WsgiRequest : public Job {
 public:
  static constexpr size_t kInputHighWater = 1 << 20;   // pause the client above this
  static constexpr size_t kInputLowWater = 256 << 10;  // resume below this
  static constexpr size_t kOutputHighWater = 512 << 10;  // worker waits above this, unacknowledged

  WsgiRequest(AppSpec app, RequestHead head);
  ~WsgiRequest() override;

  // gateway.cc: runs the application (worker, GIL held) / answers without running it.
  void Run(Worker& worker) override;
  void Abort(const ErrorInfo& why) override;
  // Tells the host (output `stuck`).
  void OnStuck() override;

  const AppSpec& app() const { return app_; }
  const RequestHead& head() const { return head_; }

  // ---- Host side (one thread, never blocks on Python) ----
  // Body bytes from the client. Returns false when the host should pause its source until
  // output says resume_input.
  bool PushInput(const char* data, size_t len);
  void EndInput();
  // The client went away: the application's next write fails, iteration stops, close() runs.
  void Cancel();
  // The host flushed `bytes` of delivered body: the worker may produce more.
  void Ack(size_t bytes);
  // The host finished streaming the sendfile range (the worker may now close the file).
  void SendfileDone();
  // Takes what is ready. After `end` was taken nothing more comes.
  RequestOutput TakeOutput();
  // Output flushed so far is acknowledged below the high-water mark.
  bool over_high_water() const { return unacked_.load(std::memory_order_relaxed) >= kOutputHighWater; }

  // ---- Worker side ----
  // Blocks (call with the GIL released) until bytes, end of input or cancel; appends at most
  // `max` bytes (all buffered when max < 0) or, with `line`, up to and including a newline.
  // Returns false at end of input (nothing appended). Hosts that own the input source (the
  // daemon reads its socket) override it.
  virtual bool ReadInput(std::string* out, int64_t max, bool line);
  // Hosts that read the body from the client themselves may read it straight into the caller's
  // buffer (wsgi.input.read(n) fills a bytes object with no copy in between): up to `len` bytes,
  // blocking like ReadInput; returns the count, 0 at the end (or when the client went away).
  // With `may_wait` false (called with the GIL held) it takes only bytes that are ready, and
  // returns -1 where it would wait or write (then the caller releases the GIL and asks again).
  virtual bool can_read_into() const { return false; }
  virtual int64_t ReadInputInto(char* buf, size_t len, bool may_wait) { return may_wait ? 0 : -1; }
  // Head, then body. Body bytes beyond the head's Content-Length are dropped (as mod_wsgi).
  void SendHead(int status, std::string reason, HeaderList headers);
  bool head_sent() const { return head_sent_; }
  // Queues body bytes; blocks (GIL released by the caller) while too much is unacknowledged.
  // Returns false once the client has gone.
  bool WriteBody(const char* data, size_t len);
  // Pass a file range to the host, and wait until it has been sent (returns false: cancelled).
  bool Sendfile(int fd, int64_t offset, int64_t length);
  // Blocking parts of WriteBody/Sendfile, for the caller to run with the GIL released.
  bool WaitWritable();
  bool WaitSendfile();
  // The response is complete (or, with abort, cut short).
  void Finish(bool abort_connection);
  // While deferring, body writes are not announced; Finish announces everything at once (a
  // small, complete response becomes one hand-off to the host).
  void DeferNotify() { defer_notify_ = true; }
  // Suspends the request: its application refused to load here (see RequestOutput).
  void Refused(const std::string& module, const std::string& message);
  bool cancelled() const;
  int64_t content_length() const { return content_length_; }
  int64_t body_sent() const { return body_sent_; }
  // Body bytes that went through this request, both ways.
  int64_t bytes_moved() const { return body_sent_ + in_received_.load(std::memory_order_relaxed); }
  bool is_head_method() const { return is_head_; }
  // The worker thread (Python thread ident) running the request, 0 before it starts.
  unsigned long running_thread() const { return running_thread_.load(); }

 protected:
  // Something new is ready to take (TakeOutput). Called without locks, on the worker thread (on
  // the deadlines thread for `stuck`): the host takes it there (the daemon writes it to its
  // socket) or posts to its own loop (the Node addon).
  virtual void Notify() = 0;
  // A host that writes the response from the worker thread itself (the native HTTP front) takes
  // body bytes here, straight from the application's buffer, instead of a copy queued for
  // TakeOutput; false once the client is gone. Only with set_direct_body().
  virtual bool WriteBodyNow(const char* data, size_t len) { return false; }
  void set_direct_body() { direct_body_ = true; }

 private:
  void NotifyLocked(std::unique_lock<std::mutex>& lock);

  AppSpec app_;
  RequestHead head_;
  bool is_head_ = false;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // input
  // Body chunks not yet read: [in_first_, end), in_offset_ bytes of the first consumed. A vector
  // (a deque allocates on construction, for every request, body or not).
  std::vector<std::string> in_chunks_;
  size_t in_first_ = 0;
  size_t in_offset_ = 0;
  size_t in_buffered_ = 0;
  std::atomic<int64_t> in_received_{0};
  bool in_eof_ = false;
  bool in_paused_ = false;
  // output
  RequestOutput out_;
  bool notified_ = false;
  std::atomic<size_t> unacked_{0};
  bool sendfile_pending_ = false;
  bool cancelled_ = false;
  // worker-only
  std::atomic<unsigned long> running_thread_{0};
  bool head_sent_ = false;
  bool defer_notify_ = false;  // worker-only
  bool direct_body_ = false;   // set by the host before the request runs
  int64_t content_length_ = -1;
  int64_t body_sent_ = 0;
};

}  // namespace pyhost
