#include "http/request_parser.h"

#include <strings.h>

#include <cstring>

namespace pyhost {
namespace {

RequestParser* Self(llhttp_t* p) { return static_cast<RequestParser*>(p->data); }

// RFC 9110 5.6.2: a header name is a token.
bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool NameIs(const std::string& name, const char* lower) {
  return name.size() == std::strlen(lower) && strcasecmp(name.c_str(), lower) == 0;
}

}  // namespace

const llhttp_settings_t* RequestParser::Settings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = OnMessageBegin;
    s.on_url = OnUrl;
    s.on_url_complete = [](llhttp_t* p) -> int {
      // llhttp takes a request line without a version for HTTP/0.9 and waits for headers that
      // never come; it is answered 400 at once (as the Node front's request-line guard does).
      return p->http_major == 0 && p->http_minor == 9 ? -1 : 0;
    };
    s.on_header_field = OnHeaderField;
    s.on_header_value = OnHeaderValue;
    s.on_header_value_complete = OnHeaderValueComplete;
    s.on_headers_complete = OnHeadersComplete;
    s.on_body = OnBody;
    s.on_message_complete = OnMessageComplete;
    return s;
  }();
  return &settings;
}

RequestParser::RequestParser(size_t max_head_bytes) : max_head_bytes_(max_head_bytes) {
  llhttp_init(&parser_, HTTP_REQUEST, Settings());
  parser_.data = this;
}

void RequestParser::Reset() {
  llhttp_reset(&parser_);
  parser_.data = this;
  head_ = ParsedHead();
  field_.clear();
  value_.clear();
  in_value_ = false;
  head_bytes_ = 0;
  head_done_ = body_done_ = false;
  body_left_ = 0;
  error_status_ = 0;
  error_reason_.clear();
}

RequestParser::Status RequestParser::Fail(int status, std::string reason) {
  if (error_status_ == 0) {
    error_status_ = status;
    error_reason_ = std::move(reason);
  }
  return Status::kError;
}

int RequestParser::OnMessageBegin(llhttp_t* p) {
  RequestParser* self = Self(p);
  self->head_ = ParsedHead();
  return 0;
}

int RequestParser::OnUrl(llhttp_t* p, const char* at, size_t len) {
  Self(p)->head_.url.append(at, len);
  return 0;
}

int RequestParser::OnHeaderField(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (self->in_value_) {
    self->EndHeader();
    if (self->error_status_) return -1;
  }
  for (size_t i = 0; i < len; i++) {
    if (!IsTokenChar(static_cast<unsigned char>(at[i]))) {
      self->Fail(400, "invalid character in a header name");
      return -1;
    }
  }
  self->field_.append(at, len);
  return 0;
}

int RequestParser::OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  char before = at == self->feed_begin_ ? self->before_feed_ : at[-1];
  if (self->in_value_ && before == '\n') {
    // RFC 9112 5.2: a server rejects obs-fold (a value continued on the next line).
    self->Fail(400, "obsolete line folding in a header value");
    return -1;
  }
  self->in_value_ = true;
  self->value_.append(at, len);
  return 0;
}

int RequestParser::OnHeaderValueComplete(llhttp_t* p) {
  // Spans of the value may still follow (an obs-fold): the header ends with the next field or
  // with the head.
  return 0;
}

void RequestParser::EndHeader() {
  if (field_.empty()) {
    Fail(400, "a header without a name");
    return;
  }
  while (!value_.empty() && (value_.back() == ' ' || value_.back() == '\t')) value_.pop_back();
  if (NameIs(field_, "host")) {
    head_.host = value_;
    head_.has_host = true;
  } else if (NameIs(field_, "expect")) {
    head_.expect_continue = strcasecmp(value_.c_str(), "100-continue") == 0;
  }
  head_.headers.append(field_).push_back('\n');
  head_.headers.append(value_).push_back('\n');
  field_.clear();
  value_.clear();
  in_value_ = false;
}

int RequestParser::OnHeadersComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  if (self->in_value_ || !self->field_.empty()) self->EndHeader();
  if (self->error_status_) return -1;
  // RFC 9112 6.3: a request whose Transfer-Encoding does not end in chunked cannot be framed
  // (llhttp 8 says so only after the head; Node's llhttp 9 at once).
  if ((p->flags & F_TRANSFER_ENCODING) && !(p->flags & F_CHUNKED)) {
    self->Fail(400, "Transfer-Encoding without chunked as the last coding");
    return -1;
  }
  // RFC 9112 3.2: an HTTP/1.1 request without a Host header is answered 400 (as Node does).
  if (p->http_major == 1 && p->http_minor >= 1 && !self->head_.has_host) {
    self->Fail(400, "an HTTP/1.1 request without a Host header");
    return -1;
  }
  // CONNECT asks for a tunnel: not an origin server's business (Node refuses it too).
  if (p->method == HTTP_CONNECT) {
    self->Fail(400, "CONNECT is not served");
    return -1;
  }
  ParsedHead& h = self->head_;
  if (!h.headers.empty()) h.headers.pop_back();  // no newline after the last value
  h.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
  h.version_minor = p->http_minor;
  h.keep_alive = llhttp_should_keep_alive(p) != 0;
  h.chunked = (p->flags & F_CHUNKED) != 0;
  h.content_length = (p->flags & F_CONTENT_LENGTH) ? static_cast<int64_t>(p->content_length) : -1;
  self->head_done_ = true;
  return HPE_PAUSED;  // the head goes to the front; the body is read on demand
}

int RequestParser::OnBody(llhttp_t* p, const char* at, size_t len) {
  Self(p)->body_out_->append(at, len);
  return 0;
}

int RequestParser::OnMessageComplete(llhttp_t* p) {
  Self(p)->body_done_ = true;
  return HPE_PAUSED;  // what follows is the next request
}

RequestParser::Status RequestParser::ParseHead(const char* data, size_t len, size_t* consumed) {
  *consumed = 0;
  if (error_status_) return Status::kError;
  feed_begin_ = data;
  llhttp_errno_t err = llhttp_execute(&parser_, data, len);
  size_t used = err == HPE_OK ? len : static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
  if (len > 0) before_feed_ = data[used > 0 ? used - 1 : 0];
  *consumed = used;
  head_bytes_ += used;
  if (err == HPE_PAUSED && head_done_) {
    if (head_bytes_ > max_head_bytes_) return Fail(431, "request head too large");
    if (parser_.http_major != 1) return Fail(505, "HTTP version not supported");
    llhttp_resume(&parser_);
    body_left_ = head_.chunked ? 0 : (head_.content_length > 0 ? head_.content_length : 0);
    body_done_ = !head_.has_body();
    return Status::kDone;
  }
  if (err != HPE_OK) {
    if (err == HPE_CB_URL_COMPLETE) return Fail(400, "request line without an HTTP version");
    if (error_status_) return Status::kError;  // a check of ours, reason set
    return Fail(400, llhttp_get_error_reason(&parser_) ? llhttp_get_error_reason(&parser_) : llhttp_errno_name(err));
  }
  if (head_bytes_ > max_head_bytes_) return Fail(431, "request head too large");
  return Status::kNeedMore;
}

RequestParser::Status RequestParser::ParseBody(const char* data, size_t len, size_t* consumed, std::string* out) {
  *consumed = 0;
  if (error_status_) return Status::kError;
  if (body_done_) return Status::kDone;
  if (!head_.chunked) {
    size_t n = static_cast<size_t>(std::min<int64_t>(body_left_, static_cast<int64_t>(len)));
    out->append(data, n);
    body_left_ -= static_cast<int64_t>(n);
    *consumed = n;
    body_done_ = body_left_ == 0;
    return body_done_ ? Status::kDone : Status::kNeedMore;
  }
  body_out_ = out;
  llhttp_errno_t err = llhttp_execute(&parser_, data, len);
  body_out_ = nullptr;
  if (err == HPE_OK) {
    *consumed = len;
    return Status::kNeedMore;
  }
  *consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
  if (err == HPE_PAUSED && body_done_) return Status::kDone;
  return Fail(400, llhttp_get_error_reason(&parser_) ? llhttp_get_error_reason(&parser_) : llhttp_errno_name(err));
}

}  // namespace pyhost
