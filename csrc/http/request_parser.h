// One connection's HTTP/1.x request parser: llhttp (the parser Node uses; Debian's node-llhttp
// sources) reads each request head; a Content-Length body is then counted out here and a chunked
// one decoded by llhttp. What llhttp 8 lets through and Node's llhttp 9 refuses (obs-fold, a
// header name that is not a token, a request line without a version) is refused here too, so
// both fronts answer hostile input alike.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include <llhttp.h>

namespace pyhost {

// What the front needs of a request head.
struct ParsedHead {
  std::string method;
  std::string url;       // the request target as received
  int version_minor = 1;  // HTTP/1.x
  std::string headers;   // "name\nvalue\nname\nvalue" (latin-1, as received, values trimmed)
  std::string host;      // the Host header ('' if none)
  bool has_host = false;
  int64_t content_length = -1;  // -1: none
  bool chunked = false;
  bool keep_alive = true;        // as the request asks (version and Connection header)
  bool expect_continue = false;  // Expect: 100-continue
  bool has_body() const { return chunked || content_length > 0; }
};

class RequestParser {
 public:
  enum class Status { kNeedMore, kDone, kError };

  explicit RequestParser(size_t max_head_bytes);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Reads a head from `data`: kDone once it is complete (`*consumed` bytes were its), kNeedMore
  // (all consumed), or kError (error_status() says which answer: 400 or 431).
  Status ParseHead(const char* data, size_t len, size_t* consumed);
  // Bytes of the head so far, request line included (none: nothing of a request received yet).
  size_t head_bytes() const { return head_bytes_; }
  const ParsedHead& head() const { return head_; }

  // After kDone: reads body bytes from `data`, appending the body (de-chunked) to `out`.
  // kDone once the body is over (`*consumed` may then be short of `len`: the rest is the next
  // request), kNeedMore, or kError (a bad chunk: 400).
  Status ParseBody(const char* data, size_t len, size_t* consumed, std::string* out);
  bool body_done() const { return body_done_; }
  // Body bytes not received yet (Content-Length bodies), -1 if unknown (chunked).
  int64_t body_left() const { return head_.chunked ? -1 : body_left_; }
  // A Content-Length body's bytes were taken by the caller (read straight from the socket).
  void CountBody(size_t n) {
    body_left_ -= static_cast<int64_t>(n);
    body_done_ = body_left_ <= 0;
  }

  // Ready for the next request on the connection.
  void Reset();

  int error_status() const { return error_status_; }
  const std::string& error_reason() const { return error_reason_; }

 private:
  static int OnMessageBegin(llhttp_t* p);
  static int OnUrl(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderField(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderValueComplete(llhttp_t* p);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t len);
  static int OnMessageComplete(llhttp_t* p);
  static const llhttp_settings_t* Settings();

  Status Fail(int status, std::string reason);
  void EndHeader();

  llhttp_t parser_;
  size_t max_head_bytes_;
  size_t head_bytes_ = 0;
  ParsedHead head_;
  std::string field_, value_;
  bool in_value_ = false;  // a value span came since the last field span
  // The byte before a span that starts a feed: a value span right after a line break is an
  // obs-fold continuation line.
  const char* feed_begin_ = nullptr;
  char before_feed_ = 0;
  bool head_done_ = false;
  bool body_done_ = false;
  int64_t body_left_ = 0;
  std::string* body_out_ = nullptr;
  int error_status_ = 0;
  std::string error_reason_;
};

}  // namespace pyhost
