#include "http/listen_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace pyhost {
namespace {

std::string ErrnoName(int e) {
  switch (e) {
    case EADDRINUSE: return "EADDRINUSE";
    case EACCES: return "EACCES";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EINVAL: return "EINVAL";
    default: return "E" + std::to_string(e);
  }
}

int Fail(int fd, ListenError* err) {
  int e = errno;
  if (fd >= 0) ::close(fd);
  err->code = ErrnoName(e);
  err->message = std::strerror(e);
  return -1;
}

}  // namespace

int OpenListenSocket(const std::string& host, int port, int backlog, int* bound_port, ListenError* err) {
  sockaddr_storage sa = {};
  socklen_t len;
  auto* in4 = reinterpret_cast<sockaddr_in*>(&sa);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&sa);
  if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof *in4;
  } else if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof *in6;
  } else {
    errno = EADDRNOTAVAIL;
    return Fail(-1, err);
  }
  int fd = ::socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(fd, err);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (sa.ss_family == AF_INET6) {
    int zero = 0;  // '::' takes IPv4 clients too, as Node's listen does
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) return Fail(fd, err);
  if (::listen(fd, backlog) != 0) return Fail(fd, err);
  sockaddr_storage got = {};
  socklen_t got_len = sizeof got;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&got), &got_len);
  *bound_port = ntohs(got.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&got)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&got)->sin_port);
  return fd;
}

}  // namespace pyhost
