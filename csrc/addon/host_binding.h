// Host functions on the Node side (host_binding.cc).
#pragma once
#include <napi.h>

#include <memory>

#include "python/host_call.h"

namespace pyhost {

struct AddonData;

// A group's channel from its options' `host: {id, names}`; null when absent.
std::shared_ptr<HostChannel> MakeHostChannel(Napi::Env env, const Napi::Value& spec);
// Environment teardown: open host calls fail, later ones are refused.
void CloseEnvironmentHostCalls(AddonData* data);
void InitHostBinding(Napi::Env env, Napi::Object exports);

}  // namespace pyhost
