// listenSocket(host, port, backlog) and closeSocket(fd), in both addons: pyhost.node's native
// front accepts on the socket, the daemon front (pyhost_front.node) passes it to its daemon
// processes, which accept on it themselves.
#pragma once
#include <napi.h>

namespace pyhost {

void InitListenBinding(Napi::Env env, Napi::Object exports);

}  // namespace pyhost
