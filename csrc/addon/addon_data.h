// Per-environment state of the addon (it is context-aware: each Node worker thread that loads it
// gets its own), next to the process-wide Python runtime.
#pragma once
#include <napi.h>

#include "napi/port.h"

namespace pyhost {

struct AddonData {
  CompletionPort* port = nullptr;
  Napi::FunctionReference log_handler;
  Napi::FunctionReference group_ctor;
  Napi::FunctionReference request_dispatch;
  void* requests = nullptr;       // RequestTable (request_binding.cc)
  void* call_results = nullptr;   // CallResults (call_results.h)
  void* call_registry = nullptr;  // CallRegistry (group_binding.cc)
};

inline AddonData* Data(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

void InitRuntimeBinding(Napi::Env env, Napi::Object exports);
void InitGroupBinding(Napi::Env env, Napi::Object exports);
void InitRequestBinding(Napi::Env env, Napi::Object exports);

}  // namespace pyhost
