// listenSocket(host, port, backlog) -> {fd, port}; throws an Error with `code` (EADDRINUSE, ...).
// closeSocket(fd). The descriptor is the native front's (or its daemon processes'): Node never
// polls it.
#include <unistd.h>

#include "http/listen_socket.h"
#include "napi/listen_binding.h"

namespace pyhost {
namespace {

Napi::Value ListenSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string host = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  int backlog = info[2].As<Napi::Number>().Int32Value();
  int bound = 0;
  ListenError err;
  int fd = OpenListenSocket(host, port, backlog, &bound, &err);
  if (fd < 0) {
    Napi::Error e = Napi::Error::New(env, "listen " + host + ":" + std::to_string(port) + ": " + err.message);
    e.Set("code", err.code);
    throw e;
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("fd", fd);
  r.Set("port", bound);
  return r;
}

Napi::Value CloseSocket(const Napi::CallbackInfo& info) {
  ::close(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

}  // namespace

void InitListenBinding(Napi::Env env, Napi::Object exports) {
  exports.Set("listenSocket", Napi::Function::New(env, ListenSocket, "listenSocket"));
  exports.Set("closeSocket", Napi::Function::New(env, CloseSocket, "closeSocket"));
}

}  // namespace pyhost
