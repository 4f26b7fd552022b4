// A listening TCP socket for the native front (and for daemon processes that accept on it
// themselves): non-blocking, close-on-exec, SO_REUSEADDR, with the given backlog.
#pragma once
#include <string>

namespace pyhost {

struct ListenError {
  std::string code;     // errno name: EADDRINUSE, EACCES, EADDRNOTAVAIL, ...
  std::string message;  // strerror
};

// `host` is a numeric IPv4 or IPv6 address. Returns the descriptor (and the port it got, for
// port 0), or -1 and `err`.
int OpenListenSocket(const std::string& host, int port, int backlog, int* bound_port, ListenError* err);

}  // namespace pyhost
