// Static aliases of the native front (`--url-alias URL PATH`), as ts/http/static.ts serves them:
// GET and HEAD (405 otherwise), Content-Type by extension, ETag and Last-Modified with 304s,
// never a file outside the aliased directory (403); the file leaves with sendfile(2).
#pragma once
#include <cstdint>
#include <string>

#include "http/client_connection.h"
#include "http/server_options.h"

namespace pyhost {

struct StaticOutcome {
  int status = 0;
  int64_t bytes = 0;       // body bytes sent
  bool keep_alive = false;  // the connection may carry another request
};

// `path_info` is the decoded, normalised path below the alias's prefix (latin-1 bytes).
StaticOutcome ServeStaticFile(ClientConnection* conn, const HttpServerOptions& opts, const HttpRoute& route,
                              const ParsedHead& head, const std::string& path_info, bool keep_alive);

// The value of the first header called `name` (lower case) in `headers` ("name\nvalue\n..."), or
// false if there is none.
bool FindHeader(const std::string& headers, const char* name, std::string* value);

}  // namespace pyhost
