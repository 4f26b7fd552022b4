// Per-environment state of the addon (it is context-aware: each Node worker thread that loads it
// gets its own), next to the process-wide Python runtime.
#pragma once
#include <napi.h>

#include <memory>
#include <vector>

#include "napi/port.h"

namespace pyhost {

class Group;

struct AddonData {
  CompletionPort* port = nullptr;
  Napi::FunctionReference log_handler;
  Napi::FunctionReference group_ctor;
  Napi::FunctionReference request_dispatch;
  void* requests = nullptr;       // RequestTable (request_binding.cc)
  void* call_results = nullptr;   // CallResults (call_results.h)
  void* call_registry = nullptr;  // CallRegistry (group_binding.cc)
  void* host_calls = nullptr;     // HostCalls (host_binding.cc)
  // This environment is one of the runtime's users (startRuntime resolved, no shutdownRuntime yet).
  bool attached = false;
  // Groups this environment created: closed when it is torn down (a Worker ending).
  std::vector<std::weak_ptr<Group>> groups;
};

inline AddonData* Data(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

void InitRuntimeBinding(Napi::Env env, Napi::Object exports);
void InitGroupBinding(Napi::Env env, Napi::Object exports);
void InitRequestBinding(Napi::Env env, Napi::Object exports);
// HttpServer: the native HTTP front, running requests in this process's groups.
void InitHttpServerBinding(Napi::Env env, Napi::Object exports);

// Environment teardown (a Worker that ends or is terminated, with or without Engine.close()):
// its groups stop (running calls interrupted, queued ones dropped), its requests are cancelled,
// and it stops being a user of the runtime, which goes on for the other threads.
void ReleaseEnvironment(AddonData* data);
// Parts of it, one per binding.
void CancelEnvironmentRequests(AddonData* data);
void ForgetRuntimePort(CompletionPort* port);

}  // namespace pyhost
