// A WSGI request of the native front, run by the thread that parsed it: the application reads
// the body straight from the client's socket (waiting with the GIL released), and its response
// goes to the socket from the same thread, the bytes of a large body chunk written from the
// application's own buffer (writev), a file with sendfile(2). Small pieces and the head are
// gathered and leave in one write.
#pragma once
#include <cstdint>
#include <string>

#include "http/client_connection.h"
#include "http/response_head.h"
#include "http/server_options.h"
#include "wsgi/inline_run.h"
#include "wsgi/request.h"

namespace pyhost {

class HttpRequest : public WsgiRequest {
 public:
  HttpRequest(ClientConnection* conn, const HttpServerOptions& opts, const HttpApp& app, RequestHead head,
              const ParsedHead& parsed, bool keep_alive);

  bool ReadInput(std::string* out, int64_t max, bool line) override;
  // A Content-Length body goes from the socket straight into the caller's buffer.
  bool can_read_into() const override { return !chunked_; }
  int64_t ReadInputInto(char* buf, size_t len, bool may_wait) override;
  // After the application: reads and drops what it left of the body (bounded), so the next
  // request on the connection can be parsed. True if the connection may carry another request.
  bool FinishExchange();

  int status() const { return status_; }
  int64_t bytes_out() const { return bytes_out_; }
  // The application refused to load here (an extension refused sub-interpreters).
  Refusal* refusal() { return &refusal_; }

 protected:
  void Notify() override;
  bool WriteBodyNow(const char* data, size_t len) override;

 private:
  void ComposeHead(RequestOutput& out);
  // Writes what is pending, then `data` (as a chunk when chunked). Releases the GIL if it must wait.
  bool Flush(const char* data, size_t len);
  // The front answers for the application (408, 413, 400): its output is dropped from now on.
  void Answer(int status, const char* reason);
  bool MoreBody();
  // Before a read that may wait: 100 Continue if the client waits for it. False: the client is gone.
  bool SendContinue();
  // The body is over the application's limit: 413. True if it is.
  bool OverLimit();

  ClientConnection* conn_;
  const HttpServerOptions& opts_;
  const HttpApp& app_;
  bool http10_;
  bool chunked_;
  bool head_method_;
  bool expect_continue_;
  bool request_keep_alive_;
  bool keep_alive_;  // the front lets the connection live on
  bool continue_sent_ = false;
  bool head_composed_ = false;
  bool answered_ = false;
  bool ended_ = false;
  Framing framing_;
  std::string pending_;  // head and small body pieces, not written yet
  std::string body_;     // decoded body bytes not read yet (chunked bodies)
  size_t body_off_ = 0;
  int64_t body_received_ = 0;
  int status_ = 0;
  int64_t bytes_out_ = 0;
  Refusal refusal_;
};

}  // namespace pyhost
