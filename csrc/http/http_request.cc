#include "http/http_request.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdio>
#include <cstring>
#include <functional>

#include "python/pyref.h"

namespace pyhost {
namespace {

// Body pieces smaller than this are gathered (copied) with the head and the others, up to
// kGatherMax; larger ones leave from the application's buffer.
constexpr size_t kSmallPiece = 16 << 10;
constexpr size_t kGatherMax = 64 << 10;
// A body the application left unread is read and dropped up to this much; past it the
// connection closes instead.
constexpr int64_t kDrainMax = 1 << 20;

// Releases the calling thread's GIL (if it holds one) the first time a write must wait; takes it
// back when it goes out of scope.
class GilReleaseOnWait {
 public:
  ~GilReleaseOnWait() {
    if (ts_) PyEval_RestoreThread(ts_);
  }
  std::function<void()> hook() {
    return [this] {
      if (!ts_ && CurrentThreadState()) ts_ = PyEval_SaveThread();
    };
  }

 private:
  PyThreadState* ts_ = nullptr;
};

}  // namespace

HttpRequest::HttpRequest(ClientConnection* conn, const HttpServerOptions& opts, const HttpApp& app, RequestHead head,
                         const ParsedHead& parsed, bool keep_alive)
    : WsgiRequest(app.spec, std::move(head)),
      conn_(conn),
      opts_(opts),
      app_(app),
      http10_(parsed.version_minor == 0),
      chunked_(parsed.chunked),
      head_method_(parsed.method == "HEAD"),
      expect_continue_(parsed.expect_continue && parsed.version_minor >= 1),
      request_keep_alive_(parsed.keep_alive),
      keep_alive_(keep_alive) {
  set_direct_body();
}

void HttpRequest::Answer(int status, const char* reason) {
  if (answered_) return;
  answered_ = true;
  if (!head_composed_) {
    status_ = status;
    std::string r = PlainResponse(status, reason, false);
    struct iovec iov = {r.data(), r.size()};
    conn_->WriteAll(&iov, 1, opts_.send_timeout_ms, nullptr);
  }
  conn_->MarkBroken();  // the rest of the body is not read: the connection cannot go on
  Cancel();
}

bool HttpRequest::MoreBody() {
  return !conn_->parser.body_done();
}

bool HttpRequest::SendContinue() {
  if (!expect_continue_ || continue_sent_ || head_composed_) return true;
  continue_sent_ = true;
  static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
  struct iovec iov = {const_cast<char*>(kContinue), sizeof kContinue - 1};
  if (conn_->WriteAll(&iov, 1, opts_.send_timeout_ms, nullptr)) return true;
  Cancel();
  return false;
}

bool HttpRequest::OverLimit() {
  if (app_.limit_request_body <= 0 || body_received_ <= app_.limit_request_body) return false;
  Answer(413, "Request Entity Too Large");
  return true;
}

int64_t HttpRequest::ReadInputInto(char* buf, size_t len, bool may_wait) {
  RequestParser& parser = conn_->parser;
  if (body_off_ < body_.size()) {
    // Left over from a readline.
    size_t n = std::min(len, body_.size() - body_off_);
    std::memcpy(buf, body_.data() + body_off_, n);
    body_off_ += n;
    if (body_off_ == body_.size()) {
      body_.clear();
      body_off_ = 0;
    }
    return static_cast<int64_t>(n);
  }
  for (;;) {
    if (answered_ || conn_->broken() || !MoreBody()) return 0;
    size_t want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(len), parser.body_left()));
    // Without waiting, nothing that may write to the client (100 Continue, a 413).
    if (!may_wait && ((expect_continue_ && !continue_sent_ && !head_composed_) ||
                      (app_.limit_request_body > 0 && body_received_ + static_cast<int64_t>(want) > app_.limit_request_body))) {
      return -1;
    }
    size_t n = 0;
    if (conn_->size() > 0) {
      n = std::min(want, conn_->size());
      std::memcpy(buf, conn_->data(), n);
      conn_->Consume(n);
    } else {
      if (!SendContinue()) return 0;
      ClientConnection::ReadResult r = conn_->ReadInto(buf, want, &n);
      if (r == ClientConnection::ReadResult::kClosed) {
        Cancel();  // the client went away mid-body
        return 0;
      }
      if (r == ClientConnection::ReadResult::kWouldBlock) {
        if (!may_wait) return -1;
        if (!conn_->WaitReadable(app_.body_timeout_ms)) {
          Answer(408, "Request Timeout");
          return 0;
        }
        continue;
      }
    }
    parser.CountBody(n);
    body_received_ += static_cast<int64_t>(n);
    if (OverLimit()) return 0;
    return static_cast<int64_t>(n);
  }
}

bool HttpRequest::ReadInput(std::string* out, int64_t max, bool line) {
  RequestParser& parser = conn_->parser;
  for (;;) {
    if (answered_ || conn_->broken()) return false;
    if (body_off_ < body_.size()) {
      size_t n = body_.size() - body_off_;
      if (max >= 0) n = std::min<size_t>(n, static_cast<size_t>(max));
      if (line) {
        const void* nl = std::memchr(body_.data() + body_off_, '\n', n);
        if (nl) n = static_cast<const char*>(nl) - (body_.data() + body_off_) + 1;
      }
      out->append(body_.data() + body_off_, n);
      body_off_ += n;
      if (body_off_ == body_.size()) {
        body_.clear();
        body_off_ = 0;
      }
      return true;
    }
    if (!MoreBody()) return false;
    if (conn_->size() > 0) {
      // A Content-Length body goes straight to the caller's buffer; a chunked one is decoded first.
      bool direct = !parser.head().chunked && !line;
      std::string* target = direct ? out : &body_;
      size_t feed = conn_->size();
      if (direct && max >= 0) feed = std::min<size_t>(feed, static_cast<size_t>(max));
      size_t before = target->size(), consumed = 0;
      RequestParser::Status st = parser.ParseBody(conn_->data(), feed, &consumed, target);
      conn_->Consume(consumed);
      body_received_ += static_cast<int64_t>(target->size() - before);
      if (st == RequestParser::Status::kError) {
        if (direct) out->resize(before);
        Answer(400, "Bad Request");
        return false;
      }
      if (OverLimit()) {
        if (direct) out->resize(before);
        return false;
      }
      if (direct && target->size() > before) return true;
      continue;
    }
    if (!SendContinue()) return false;
    ClientConnection::ReadResult r = conn_->ReadSome();
    if (r == ClientConnection::ReadResult::kData) continue;
    if (r == ClientConnection::ReadResult::kClosed) {
      Cancel();  // the client went away mid-body
      return false;
    }
    if (!conn_->WaitReadable(app_.body_timeout_ms)) {
      Answer(408, "Request Timeout");
      return false;
    }
  }
}

void HttpRequest::ComposeHead(RequestOutput& out) {
  head_composed_ = true;
  status_ = out.status;
  HeadContext ctx;
  ctx.http10 = http10_;
  // A body the client was not told to send (Expect: 100-continue) may or may not follow: the
  // connection cannot be reused after this response.
  bool unsent_body = expect_continue_ && !continue_sent_ && MoreBody();
  ctx.keep_alive = keep_alive_ && request_keep_alive_ && !unsent_body;
  ctx.head_method = head_method_;
  ctx.content_length = content_length();
  AppendResponseHead(&pending_, out.status, out.reason, out.headers, ctx, &framing_);
}

bool HttpRequest::Flush(const char* data, size_t len) {
  GilReleaseOnWait gil;
  char chunk_head[24];
  struct iovec iov[4];
  size_t n = 0;
  if (!pending_.empty()) iov[n++] = {pending_.data(), pending_.size()};
  if (len > 0) {
    if (framing_.chunked) {
      int h = std::snprintf(chunk_head, sizeof chunk_head, "%zx\r\n", len);
      iov[n++] = {chunk_head, static_cast<size_t>(h)};
    }
    iov[n++] = {const_cast<char*>(data), len};
    if (framing_.chunked) iov[n++] = {const_cast<char*>("\r\n"), 2};
  }
  bool ok = conn_->WriteAll(iov, n, opts_.send_timeout_ms, gil.hook());
  pending_.clear();
  return ok;
}

bool HttpRequest::WriteBodyNow(const char* data, size_t len) {
  if (answered_ || conn_->broken()) return false;
  if (!head_composed_) {
    RequestOutput out = TakeOutput();
    if (out.has_head) ComposeHead(out);
  }
  bytes_out_ += static_cast<int64_t>(len);
  if (len < kSmallPiece && pending_.size() + len + 16 <= kGatherMax) {
    if (framing_.chunked) {
      char chunk_head[24];
      int h = std::snprintf(chunk_head, sizeof chunk_head, "%zx\r\n", len);
      pending_.append(chunk_head, static_cast<size_t>(h));
    }
    pending_.append(data, len);
    if (framing_.chunked) pending_.append("\r\n");
    return true;
  }
  if (!Flush(data, len)) {
    Cancel();
    return false;
  }
  return true;
}

void HttpRequest::Notify() {
  RequestOutput out = TakeOutput();
  if (refusal_.Take(out)) return;
  if (answered_) {
    if (out.sendfile) SendfileDone();
    return;
  }
  if (out.has_head && !head_composed_) ComposeHead(out);
  bool ok = !conn_->broken();
  if (out.sendfile) {
    int64_t length = out.sendfile_length;
    if (ok && length > 0) {
      bytes_out_ += length;
      char chunk_head[24] = "";
      if (framing_.chunked) {
        int h = std::snprintf(chunk_head, sizeof chunk_head, "%llx\r\n", static_cast<unsigned long long>(length));
        pending_.append(chunk_head, static_cast<size_t>(h));
      }
      ok = Flush(nullptr, 0);
      GilReleaseOnWait gil;
      ok = ok && conn_->SendFile(out.sendfile_fd, out.sendfile_offset, length, opts_.send_timeout_ms, gil.hook());
      if (framing_.chunked) pending_.append("\r\n");
    }
    SendfileDone();
    if (!ok) Cancel();
  }
  if (out.end && !ended_) {
    ended_ = true;
    if (out.abort_connection) {
      // Cut short: what was produced goes out, the end marker does not, the connection closes.
      if (ok && !pending_.empty()) Flush(nullptr, 0);
      conn_->MarkBroken();
      return;
    }
    if (framing_.chunked && !head_method_) pending_.append("0\r\n\r\n");
    if (ok && !pending_.empty()) ok = Flush(nullptr, 0);
    if (!ok) conn_->MarkBroken();
  }
}

bool HttpRequest::FinishExchange() {
  if (answered_ || conn_->broken() || framing_.close || !head_composed_) return false;
  if (!MoreBody()) return true;
  if (expect_continue_ && !continue_sent_) return false;  // the client may never send it
  // Drop the rest of the body, so the next request parses.
  std::string scratch;
  int64_t dropped = 0;
  while (MoreBody()) {
    if (conn_->size() > 0) {
      size_t consumed = 0;
      scratch.clear();
      if (conn_->parser.ParseBody(conn_->data(), conn_->size(), &consumed, &scratch) == RequestParser::Status::kError) return false;
      conn_->Consume(consumed);
      dropped += static_cast<int64_t>(scratch.size());
      if (dropped > kDrainMax) return false;
      continue;
    }
    ClientConnection::ReadResult r = conn_->ReadSome();
    if (r == ClientConnection::ReadResult::kClosed) return false;
    if (r == ClientConnection::ReadResult::kWouldBlock && !conn_->WaitReadable(opts_.body_timeout_ms)) return false;
  }
  return true;
}

}  // namespace pyhost
