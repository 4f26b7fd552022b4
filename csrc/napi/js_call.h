// Calling a JS function from a completion (loop thread): an exception it throws becomes an
// uncaught exception of the process rather than being lost; body chunks become Buffers.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

namespace pyhost {

void CallDispatch(Napi::Env env, const Napi::FunctionReference& fn, size_t argc, const napi_value* argv);

// One chunk: a Buffer; several: an array of Buffers; none: undefined. Chunks of `external_min`
// bytes or more are handed over without a copy (freed when the Buffer is collected).
napi_value ChunksToJs(Napi::Env env, std::vector<std::string>& chunks, size_t external_min = SIZE_MAX);

}  // namespace pyhost
