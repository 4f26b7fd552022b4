#include "napi/js_call.h"

namespace pyhost {
namespace {
napi_value ChunkToJs(Napi::Env env, std::string&& chunk, size_t external_min) {
  if (chunk.size() < external_min) return Napi::Buffer<char>::Copy(env, chunk.data(), chunk.size());
  auto* owned = new std::string(std::move(chunk));
  return Napi::Buffer<char>::New(env, &(*owned)[0], owned->size(), [](Napi::Env, char*, std::string* s) { delete s; },
                                 owned);
}
}  // namespace

void CallDispatch(Napi::Env env, const Napi::FunctionReference& fn, size_t argc, const napi_value* argv) {
  napi_value result;
  napi_call_function(env, env.Undefined(), fn.Value(), argc, argv, &result);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value e;
    napi_get_and_clear_last_exception(env, &e);
    napi_fatal_exception(env, e);
  }
}

napi_value ChunksToJs(Napi::Env env, std::vector<std::string>& chunks, size_t external_min) {
  if (chunks.empty()) return env.Undefined();
  if (chunks.size() == 1) return ChunkToJs(env, std::move(chunks[0]), external_min);
  Napi::Array arr = Napi::Array::New(env, chunks.size());
  for (size_t i = 0; i < chunks.size(); i++) arr.Set(static_cast<uint32_t>(i), ChunkToJs(env, std::move(chunks[i]), external_min));
  return arr;
}

}  // namespace pyhost
