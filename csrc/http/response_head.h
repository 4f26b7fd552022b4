// The bytes of an HTTP/1.1 response head: the application's status and headers, then what the
// front adds (Date, and the framing: Content-Length as the application gave it, else chunked
// for HTTP/1.1 clients or close-delimited for HTTP/1.0 ones; Connection when it closes).
#pragma once
#include <cstdint>
#include <string>

#include "wsgi/request.h"

namespace pyhost {

struct HeadContext {
  bool http10 = false;           // the request was HTTP/1.0
  bool keep_alive = true;        // the connection may stay open after this response
  bool head_method = false;      // HEAD: no body follows, whatever the headers say
  int64_t content_length = -1;   // the application's Content-Length, -1 if none
};

struct Framing {
  bool chunked = false;  // body bytes go out as chunks
  bool close = false;    // the connection closes after the response
};

// Appends the head to `out` and says how the body is framed.
void AppendResponseHead(std::string* out, int status, const std::string& reason, const HeaderList& headers,
                        const HeadContext& ctx, Framing* framing);

// A whole plain-text answer of the front itself ("<reason>\n"), closing the connection unless
// `keep_alive`.
std::string PlainResponse(int status, const char* reason, bool keep_alive, const std::string& extra_headers = "");

// "Date: <IMF-fixdate>\r\n" for now (formatted once a second per thread).
const std::string& DateHeaderLine();

}  // namespace pyhost
