// WSGI requests from Node: submit a request to a group, stream its body in, take its response
// out. Requests are named by integer ids; output reaches JS through one dispatch function.
#include <unordered_map>

#include "python/group.h"
#include "addon/addon_data.h"
#include "napi/js_call.h"
#include "addon/js_value.h"
#include "addon/request_flags.h"
#include "addon/promise_op.h"
#include "wsgi/wsgi_state.h"
#include "napi/latin1.h"
#include "wsgi/request.h"

namespace pyhost {

std::shared_ptr<Group> GroupFromJs(const Napi::Value& v);

namespace {

using namespace request_flags;
constexpr size_t kExternalBufferMin = 32 << 10;

class NodeWsgiRequest;

struct RequestTable {
  uint32_t next_id = 1;
  std::unordered_map<uint32_t, NodeWsgiRequest*> live;
  std::vector<AppSpec> apps;
  // Groups given requests since the last wakeGroups(): their workers are woken once per batch.
  std::vector<std::shared_ptr<Group>> to_wake;
};

RequestTable& Table(Napi::Env env);

class NodeWsgiRequest : public WsgiRequest, public Deliverable {
 public:
  NodeWsgiRequest(uint32_t id, CompletionPort* port, AppSpec app, RequestHead head)
      : WsgiRequest(std::move(app), std::move(head)), id_(id), port_(port) {}

  uint32_t id() const { return id_; }

  bool Deliver(Napi::Env env) override {
    RequestOutput out = TakeOutput();
    AddonData* d = Data(env);
    napi_value args[7];
    args[0] = Napi::Number::New(env, id_);
    int flags = 0;
    if (out.has_head) {
      args[1] = Napi::Number::New(env, out.status);
      args[2] = Latin1ToJs(env, out.reason);
      args[3] = Latin1ToJs(env, JoinHeaders(out.headers));
    } else {
      args[1] = Napi::Number::New(env, 0);
      args[2] = env.Undefined();
      args[3] = env.Undefined();
    }
    args[4] = ChunksToJs(env, out.chunks, kExternalBufferMin);
    args[6] = env.Undefined();
    if (out.end) flags |= kEnd;
    if (out.abort_connection) flags |= kAbort;
    if (out.interrupted != InterruptKind::kNone) flags |= kTimedOut;
    if (out.stuck) flags |= kStuck;
    if (out.resume_input) flags |= kResumeInput;
    if (out.sendfile) {
      flags |= kSendfile;
      Napi::Array sf = Napi::Array::New(env, 3);
      sf.Set(0u, Napi::Number::New(env, out.sendfile_fd));
      sf.Set(1u, Napi::Number::New(env, static_cast<double>(out.sendfile_offset)));
      sf.Set(2u, Napi::Number::New(env, static_cast<double>(out.sendfile_length)));
      args[6] = sf;
    }
    if (!out.refused_module.empty()) {
      flags |= kRefused;
      Napi::Array r = Napi::Array::New(env, 2);
      r.Set(0u, Napi::String::New(env, out.refused_module));
      r.Set(1u, Napi::String::New(env, out.refused_message));
      args[6] = r;
    }
    args[5] = Napi::Number::New(env, flags);
    if (out.end) {
      Table(env).live.erase(id_);
      port_->Release();
    }
    if (!d->request_dispatch.IsEmpty()) CallDispatch(env, d->request_dispatch, 7, args);
    return out.end;
  }

 protected:
  void Notify() override { port_->Post(this); }

 private:
  uint32_t id_;
  CompletionPort* port_;
};

RequestTable& Table(Napi::Env env) {
  AddonData* d = Data(env);
  static_assert(sizeof(void*) > 0, "");
  if (!d->requests) d->requests = new RequestTable();
  return *static_cast<RequestTable*>(d->requests);
}

NodeWsgiRequest* Find(const Napi::CallbackInfo& info) {
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  auto& live = Table(info.Env()).live;
  auto it = live.find(id);
  return it == live.end() ? nullptr : it->second;
}

// registerApp(target, isModule, callable, reload) -> appKey
Napi::Value RegisterApp(const Napi::CallbackInfo& info) {
  AppSpec spec;
  spec.target = info[0].As<Napi::String>().Utf8Value();
  spec.is_module = info[1].ToBoolean().Value();
  spec.callable = info[2].As<Napi::String>().Utf8Value();
  spec.reload = info[3].ToBoolean().Value();
  auto& apps = Table(info.Env()).apps;
  apps.push_back(std::move(spec));
  return Napi::Number::New(info.Env(), static_cast<double>(apps.size() - 1));
}

// submitRequest(group, appKey, fields, flags, limits?) -> id, where `fields` is one latin-1 string:
// method, scriptName, pathInfo, query, requestUri, protocol, scheme, serverName, serverPort,
// localAddr, remoteAddr, remotePort, processGroup, applicationGroup and the raw headers, joined
// by NUL (one string to convert instead of fifteen: this call is on every request's path).
// `limits` ({timeoutMs, graceMs}) gives the request a hard deadline (python/deadlines.h).
Napi::Value SubmitRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequestTable& table = Table(env);
  std::shared_ptr<Group> group = GroupFromJs(info[0]);
  uint32_t app_key = info[1].As<Napi::Number>().Uint32Value();
  if (app_key >= table.apps.size()) throw Napi::RangeError::New(env, "unknown app key");
  std::string all = Latin1FromJs(env, info[2]);
  RequestHead h;
  std::string* fields[] = {&h.method,      &h.script_name, &h.path_info,   &h.query,         &h.request_uri,
                           &h.protocol,    &h.scheme,      &h.server_name, &h.server_port,   &h.local_addr,
                           &h.remote_addr, &h.remote_port, &h.process_group, &h.application_group};
  size_t pos = 0;
  for (std::string* f : fields) {
    size_t end = all.find('\0', pos);
    if (end == std::string::npos) throw Napi::RangeError::New(env, "submitRequest: malformed fields");
    f->assign(all, pos, end - pos);
    pos = end + 1;
  }
  h.headers.assign(all, pos, std::string::npos);
  int flags = info[3].As<Napi::Number>().Int32Value();
  h.has_body = flags & kHasBody;
  h.pass_authorization = flags & kPassAuthorization;
  h.multiprocess = flags & kMultiprocess;
  h.multithread = !(flags & kSingleThread);
  uint32_t id = table.next_id++;
  if (table.next_id == 0) table.next_id = 1;
  CompletionPort* port = Data(env)->port;
  auto* req = new NodeWsgiRequest(id, port, table.apps[app_key], std::move(h));
  if (info.Length() > 4 && info[4].IsObject()) {
    Napi::Object limits = info[4].As<Napi::Object>();
    req->timeout_ms = limits.Get("timeoutMs").ToNumber().Int32Value();
    if (limits.Has("graceMs")) req->grace_ms = limits.Get("graceMs").ToNumber().Int32Value();
  }
  table.live.emplace(id, req);
  port->Hold();
  if (flags & kDeferWake) {
    group->Submit(req, /*wake=*/false);
    bool listed = false;
    for (const auto& g : table.to_wake) listed = listed || g == group;
    if (!listed) table.to_wake.push_back(group);
  } else {
    group->Submit(req);
  }
  return Napi::Number::New(env, id);
}

// requestPush(id, buffer) -> false when the source should pause
Napi::Value RequestPush(const Napi::CallbackInfo& info) {
  NodeWsgiRequest* r = Find(info);
  if (!r) return Napi::Boolean::New(info.Env(), true);
  auto buf = info[1].As<Napi::Buffer<char>>();
  return Napi::Boolean::New(info.Env(), r->PushInput(buf.Data(), buf.Length()));
}

Napi::Value RequestEnd(const Napi::CallbackInfo& info) {
  if (NodeWsgiRequest* r = Find(info)) r->EndInput();
  return info.Env().Undefined();
}

Napi::Value RequestCancel(const Napi::CallbackInfo& info) {
  if (NodeWsgiRequest* r = Find(info)) r->Cancel();
  return info.Env().Undefined();
}

Napi::Value RequestAck(const Napi::CallbackInfo& info) {
  if (NodeWsgiRequest* r = Find(info)) r->Ack(static_cast<size_t>(info[1].As<Napi::Number>().Int64Value()));
  return info.Env().Undefined();
}

Napi::Value RequestSendfileDone(const Napi::CallbackInfo& info) {
  if (NodeWsgiRequest* r = Find(info)) r->SendfileDone();
  return info.Env().Undefined();
}

// requestResubmit(id, group): after the host moved the group (the %{GLOBAL} fallback).
Napi::Value RequestResubmit(const Napi::CallbackInfo& info) {
  if (NodeWsgiRequest* r = Find(info)) GroupFromJs(info[1])->Submit(r);
  return info.Env().Undefined();
}

// requestFail(id, code, message): answer a suspended request with an error.
Napi::Value RequestFail(const Napi::CallbackInfo& info) {
  if (NodeWsgiRequest* r = Find(info)) {
    r->Abort(ErrorInfo::Make(info[1].As<Napi::String>().Utf8Value(), info[2].As<Napi::String>().Utf8Value()));
  }
  return info.Env().Undefined();
}

// requestInfo(id) -> {started, thread} | undefined
Napi::Value RequestInfo(const Napi::CallbackInfo& info) {
  NodeWsgiRequest* r = Find(info);
  if (!r) return info.Env().Undefined();
  Napi::Object o = Napi::Object::New(info.Env());
  unsigned long t = r->running_thread();
  o.Set("started", t != 0);
  o.Set("thread", static_cast<double>(t));
  o.Set("seq", static_cast<double>(r->seq));
  return o;
}

// Imports an application ahead of its first request (WSGIImportScript / preload).
class LoadAppJob : public Job {
 public:
  LoadAppJob(PromiseOp* op, AppSpec spec) : op_(op), spec_(std::move(spec)) {}
  void Run(Worker& w) override {
    ErrorInfo err;
    if (!GetApplication(GetWsgiState(w.interp().module()), spec_, &err)) Settle(err);
    else Settle(ErrorInfo());
  }
  void Abort(const ErrorInfo& why) override { Settle(why); }

 private:
  void Settle(ErrorInfo err) {
    op_->Post([err](Napi::Env env, Napi::Promise::Deferred& d) {
      if (err.empty()) d.Resolve(env.Undefined());
      else d.Reject(ErrorToJs(env, err));
    });
    delete this;
  }
  PromiseOp* op_;
  AppSpec spec_;
};

// loadApp(group, appKey) -> Promise<undefined>
Napi::Value LoadApp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequestTable& table = Table(env);
  uint32_t key = info[1].As<Napi::Number>().Uint32Value();
  if (key >= table.apps.size()) throw Napi::RangeError::New(env, "unknown app key");
  auto* op = new PromiseOp(env);
  Napi::Promise p = op->promise();
  GroupFromJs(info[0])->Submit(new LoadAppJob(op, table.apps[key]));
  return p;
}

// wakeGroups(): wakes the workers of groups given requests with the defer-wake flag (called once
// per event loop turn, so a burst of requests costs one wake-up, not one each).
Napi::Value WakeGroups(const Napi::CallbackInfo& info) {
  RequestTable& table = Table(info.Env());
  for (const auto& g : table.to_wake) g->Wake();
  table.to_wake.clear();
  return info.Env().Undefined();
}

Napi::Value SetRequestDispatch(const Napi::CallbackInfo& info) {
  Data(info.Env())->request_dispatch = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace

void CancelEnvironmentRequests(AddonData* data) {
  if (!data->requests) return;
  for (auto& entry : static_cast<RequestTable*>(data->requests)->live) entry.second->Cancel();
}

void InitRequestBinding(Napi::Env env, Napi::Object exports) {
  exports.Set("registerApp", Napi::Function::New(env, RegisterApp, "registerApp"));
  exports.Set("submitRequest", Napi::Function::New(env, SubmitRequest, "submitRequest"));
  exports.Set("requestPush", Napi::Function::New(env, RequestPush, "requestPush"));
  exports.Set("requestEnd", Napi::Function::New(env, RequestEnd, "requestEnd"));
  exports.Set("requestCancel", Napi::Function::New(env, RequestCancel, "requestCancel"));
  exports.Set("requestAck", Napi::Function::New(env, RequestAck, "requestAck"));
  exports.Set("requestSendfileDone", Napi::Function::New(env, RequestSendfileDone, "requestSendfileDone"));
  exports.Set("requestResubmit", Napi::Function::New(env, RequestResubmit, "requestResubmit"));
  exports.Set("requestFail", Napi::Function::New(env, RequestFail, "requestFail"));
  exports.Set("wakeGroups", Napi::Function::New(env, WakeGroups, "wakeGroups"));
  exports.Set("requestInfo", Napi::Function::New(env, RequestInfo, "requestInfo"));
  exports.Set("loadApp", Napi::Function::New(env, LoadApp, "loadApp"));
  exports.Set("setRequestDispatch", Napi::Function::New(env, SetRequestDispatch, "setRequestDispatch"));
}

}  // namespace pyhost
