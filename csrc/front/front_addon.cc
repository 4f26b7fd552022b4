// pyhost_front.node: the native side of a front that serves daemon process groups. It links no
// Python: a front under WSGIRestrictEmbedded never maps libpython.
#include <napi.h>

#include <memory>
#include <unordered_map>
#include <vector>

#include "front/daemon_link.h"
#include "front/request_channel.h"
#include "http/allocator_tuning.h"
#include "napi/js_call.h"
#include "napi/latin1.h"
#include "napi/listen_binding.h"
#include "napi/port.h"

namespace pyhost {
namespace {

struct FrontData {
  CompletionPort* port = nullptr;
  uv_loop_t* loop = nullptr;
  Napi::FunctionReference dispatch;
  uint32_t next_id = 1;
  std::unordered_map<uint32_t, DaemonLink*> links;
  std::vector<DaemonLink*> closed;  // freed once libuv has closed their handles
  std::unordered_map<std::string, RequestChannel*> channels;  // by daemon socket path
  std::vector<RequestChannel*> to_flush;
  uv_prepare_t* flush = nullptr;  // writes the channels' queued requests before the loop polls
};

DaemonLink* LinkById(FrontData* d, uint32_t id) {
  auto it = d->links.find(id);
  return it == d->links.end() ? nullptr : it->second;
}

RequestChannel* ChannelFor(FrontData* d, const std::string& path) {
  auto it = d->channels.find(path);
  if (it != d->channels.end()) return it->second;
  auto* c = new RequestChannel(
      d->loop, path, &d->to_flush, [d](uint32_t id) { return LinkById(d, id); },
      [d](RequestChannel* closing) {
        auto at = d->channels.find(closing->path());
        if (at != d->channels.end() && at->second == closing) d->channels.erase(at);
      });
  d->channels.emplace(path, c);
  c->Start();
  return c;
}

FrontData* Front(Napi::Env env) { return env.GetInstanceData<FrontData>(); }

DaemonLink* Find(const Napi::CallbackInfo& info) {
  return LinkById(Front(info.Env()), info[0].As<Napi::Number>().Uint32Value());
}

// open(socketPath) -> id: connects in the background.
Napi::Value Open(const Napi::CallbackInfo& info) {
  FrontData* d = Front(info.Env());
  for (auto it = d->closed.begin(); it != d->closed.end();) {
    if ((*it)->Finished()) {
      delete *it;
      it = d->closed.erase(it);
    } else {
      ++it;
    }
  }
  uint32_t id = d->next_id++;
  if (d->next_id == 0) d->next_id = 1;
  std::string path = info[0].As<Napi::String>().Utf8Value();
  RequestChannel* channel = ChannelFor(d, path);
  auto* link = new DaemonLink(id, d->port, path, channel);
  d->links.emplace(id, link);
  link->Start(d->loop);
  return Napi::Number::New(info.Env(), id);
}

// send(id, frame: string): the REQUEST frame, latin-1 (one byte per char).
Napi::Value Send(const Napi::CallbackInfo& info) {
  if (DaemonLink* l = Find(info)) {
    napi_env env = info.Env();
    thread_local std::string scratch;  // reused: no allocation per request
    size_t len = 0;
    napi_get_value_string_latin1(env, info[1], nullptr, 0, &len);
    if (scratch.size() < len + 1) scratch.resize(len + 1);  // + the terminator N-API writes
    napi_get_value_string_latin1(env, info[1], &scratch[0], len + 1, &len);
    l->Send(scratch.data(), len);
  }
  return info.Env().Undefined();
}

Napi::Value Push(const Napi::CallbackInfo& info) {
  DaemonLink* l = Find(info);
  if (!l) return Napi::Boolean::New(info.Env(), true);
  auto b = info[1].As<Napi::Buffer<char>>();
  return Napi::Boolean::New(info.Env(), l->Push(b.Data(), b.Length()));
}

Napi::Value End(const Napi::CallbackInfo& info) {
  if (DaemonLink* l = Find(info)) l->EndBody();
  return info.Env().Undefined();
}

Napi::Value Ack(const Napi::CallbackInfo& info) {
  if (DaemonLink* l = Find(info)) l->Ack(static_cast<size_t>(info[1].As<Napi::Number>().Int64Value()));
  return info.Env().Undefined();
}

// close(id): cancels what is in flight and ends the link.
Napi::Value Close(const Napi::CallbackInfo& info) {
  FrontData* d = Front(info.Env());
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  auto it = d->links.find(id);
  if (it != d->links.end()) {
    it->second->Close();
    d->closed.push_back(it->second);
    d->links.erase(it);
  }
  return info.Env().Undefined();
}

Napi::Value SetDispatch(const Napi::CallbackInfo& info) {
  Front(info.Env())->dispatch = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* d = new FrontData();
  d->port = new CompletionPort(env);
  env.SetInstanceData<FrontData>(d);
  napi_get_uv_event_loop(env, &d->loop);
  d->flush = new uv_prepare_t;
  uv_prepare_init(d->loop, d->flush);
  d->flush->data = d;
  uv_prepare_start(d->flush, [](uv_prepare_t* h) {
    auto* data = static_cast<FrontData*>(h->data);
    if (!data->to_flush.empty()) RequestChannel::FlushAll(&data->to_flush);
  });
  uv_unref(reinterpret_cast<uv_handle_t*>(d->flush));
  napi_add_env_cleanup_hook(
      env,
      [](void* arg) {
        auto* data = static_cast<FrontData*>(arg);
        data->port->Close();
        // Its own allocation: the instance data may be freed before libuv is done with it.
        uv_close(reinterpret_cast<uv_handle_t*>(data->flush), [](uv_handle_t* h) { delete reinterpret_cast<uv_prepare_t*>(h); });
      },
      d);
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("send", Napi::Function::New(env, Send, "send"));
  exports.Set("push", Napi::Function::New(env, Push, "push"));
  exports.Set("end", Napi::Function::New(env, End, "end"));
  exports.Set("ack", Napi::Function::New(env, Ack, "ack"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("setDispatch", Napi::Function::New(env, SetDispatch, "setDispatch"));
  InitListenBinding(env, exports);
  // Request bodies and responses pass through in 64 KiB buffers (http/allocator_tuning.h).
  TuneAllocatorForServing();
  return exports;
}

}  // namespace

void DispatchLinkOutput(Napi::Env env, DaemonLink* link, int status, const std::string& reason,
                        const std::string& headers, std::vector<std::string>& chunks, int flags) {
  FrontData* d = Front(env);
  if (d->dispatch.IsEmpty() || !d->links.count(link->id())) return;  // closed meanwhile
  napi_value args[6];
  args[0] = Napi::Number::New(env, link->id());
  args[1] = Napi::Number::New(env, status);
  args[2] = status ? Latin1ToJs(env, reason) : env.Undefined();
  args[3] = status ? Latin1ToJs(env, headers) : env.Undefined();
  args[4] = ChunksToJs(env, chunks);
  args[5] = Napi::Number::New(env, flags);
  CallDispatch(env, d->dispatch, 6, args);
}

}  // namespace pyhost

static Napi::Object InitFront(Napi::Env env, Napi::Object exports) { return pyhost::Init(env, exports); }
NODE_API_MODULE(pyhost_front, InitFront)
