// HttpServer (JS class): the native front, configured by one plain options object that
// ts/front/native-front.ts builds and validates (sharp's style: JavaScript validates, C++ reads).
// No JavaScript runs per request; Node asks for stats, stops accepting and shuts down.
//
//   new HttpServer({ listenFds, apps: [{target, isModule, callable, reload, groups, processGroup,
//     applicationGroup, passAuthorization, multiprocess, multithread, limitRequestBody,
//     bodyTimeout, chunkedRequest, fallbackGlobal}], routes: [{prefix, app} | {prefix, staticRoot}],
//     contentTypes, threads, eager, acceptBatch, headerTimeout, bodyTimeout, keepAliveTimeout,
//     sendTimeout, maxKeepAliveRequests, maxHeadBytes, accessLogFd, logGroup })
//   .stats() -> {requests, inflight, connections}; .stopAccepting(); .shutdown(ms) -> Promise<bool>
#include <chrono>
#include <memory>
#include <thread>

#include "python/group.h"
#include "http/http_server.h"
#include "addon/addon_data.h"
#include "addon/promise_op.h"

namespace pyhost {

std::shared_ptr<Group> GroupFromJs(const Napi::Value& v);

namespace {

int IntOr(const Napi::Object& o, const char* key, int fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : fallback;
}

bool BoolOr(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : fallback;
}

std::string StringOr(const Napi::Object& o, const char* key, const std::string& fallback = "") {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : fallback;
}

HttpApp ReadApp(const Napi::Object& a) {
  HttpApp app;
  app.spec.target = StringOr(a, "target");
  app.spec.is_module = BoolOr(a, "isModule", false);
  app.spec.callable = StringOr(a, "callable", "application");
  app.spec.reload = BoolOr(a, "reload", false);
  Napi::Array groups = a.Get("groups").As<Napi::Array>();
  for (uint32_t i = 0; i < groups.Length(); i++) app.groups.push_back(GroupFromJs(groups.Get(i)));
  app.process_group = StringOr(a, "processGroup");
  app.application_group = StringOr(a, "applicationGroup");
  app.pass_authorization = BoolOr(a, "passAuthorization", false);
  app.multiprocess = BoolOr(a, "multiprocess", false);
  app.multithread = BoolOr(a, "multithread", true);
  Napi::Value limit = a.Get("limitRequestBody");
  app.limit_request_body = limit.IsNumber() ? limit.As<Napi::Number>().Int64Value() : 0;
  app.body_timeout_ms = IntOr(a, "bodyTimeout", 0);
  app.chunked_request = BoolOr(a, "chunkedRequest", true);
  app.fallback_global = BoolOr(a, "fallbackGlobal", true);
  return app;
}

HttpServerOptions ReadOptions(const Napi::Object& o) {
  HttpServerOptions opts;
  Napi::Array fds = o.Get("listenFds").As<Napi::Array>();
  for (uint32_t i = 0; i < fds.Length(); i++) opts.listen_fds.push_back(fds.Get(i).As<Napi::Number>().Int32Value());
  Napi::Array apps = o.Get("apps").As<Napi::Array>();
  for (uint32_t i = 0; i < apps.Length(); i++) opts.apps.push_back(ReadApp(apps.Get(i).As<Napi::Object>()));
  Napi::Array routes = o.Get("routes").As<Napi::Array>();
  for (uint32_t i = 0; i < routes.Length(); i++) {
    Napi::Object r = routes.Get(i).As<Napi::Object>();
    HttpRoute route;
    route.prefix = StringOr(r, "prefix");
    route.app = IntOr(r, "app", -1);
    route.static_root = StringOr(r, "staticRoot");
    opts.routes.push_back(std::move(route));
  }
  Napi::Value types = o.Get("contentTypes");
  if (types.IsObject()) {
    Napi::Object t = types.As<Napi::Object>();
    Napi::Array keys = t.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); i++) {
      std::string ext = keys.Get(i).As<Napi::String>().Utf8Value();
      opts.content_types[ext] = t.Get(ext).As<Napi::String>().Utf8Value();
    }
  }
  opts.threads = IntOr(o, "threads", opts.threads);
  opts.accept_batch = IntOr(o, "acceptBatch", opts.accept_batch);
  opts.header_timeout_ms = IntOr(o, "headerTimeout", opts.header_timeout_ms);
  opts.body_timeout_ms = IntOr(o, "bodyTimeout", opts.body_timeout_ms);
  opts.keepalive_timeout_ms = IntOr(o, "keepAliveTimeout", opts.keepalive_timeout_ms);
  opts.send_timeout_ms = IntOr(o, "sendTimeout", opts.send_timeout_ms);
  opts.max_keepalive_requests = IntOr(o, "maxKeepAliveRequests", opts.max_keepalive_requests);
  opts.max_head_bytes = static_cast<size_t>(IntOr(o, "maxHeadBytes", static_cast<int>(opts.max_head_bytes)));
  opts.access_log_fd = IntOr(o, "accessLogFd", -1);
  opts.log_group = StringOr(o, "logGroup");
  return opts;
}

class HttpServerHandle : public Napi::ObjectWrap<HttpServerHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "HttpServer",
                       {InstanceMethod<&HttpServerHandle::Stats>("stats"),
                        InstanceMethod<&HttpServerHandle::StopAccepting>("stopAccepting"),
                        InstanceMethod<&HttpServerHandle::Shutdown>("shutdown")});
  }

  explicit HttpServerHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HttpServerHandle>(info) {
    Napi::Object o = info[0].As<Napi::Object>();
    server_ = new HttpServer(ReadOptions(o), BoolOr(o, "eager", false));
    std::string err;
    if (!server_->Start(&err)) {
      delete server_;
      server_ = nullptr;
      throw Napi::Error::New(info.Env(), "native HTTP front: " + err);
    }
    // A listening server keeps Node's event loop alive, as a node:http server does, until shutdown.
    port_ = Data(info.Env())->port;
    port_->Hold();
    // A Worker that ends without shutdown(): the server stops before the environment's groups
    // close (hooks run in reverse order of registration, so before ReleaseEnvironment's).
    napi_add_env_cleanup_hook(info.Env(), StopOnTeardown, this);
    hooked_ = true;
  }

  ~HttpServerHandle() override { Unhook(); }

 private:
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Object r = Napi::Object::New(info.Env());
    HttpServer::Stats s = server_ ? server_->stats() : HttpServer::Stats();
    r.Set("requests", static_cast<double>(s.requests));
    r.Set("inflight", s.inflight);
    r.Set("connections", s.connections);
    return r;
  }

  Napi::Value StopAccepting(const Napi::CallbackInfo& info) {
    if (server_) server_->StopAccepting();
    return info.Env().Undefined();
  }

  // shutdown(timeoutMs) -> Promise<boolean>: true once every serving thread ended. The wait runs
  // off the loop thread. A server whose threads did not end is left alive (never freed under them).
  Napi::Value Shutdown(const Napi::CallbackInfo& info) {
    Unhook();
    auto* op = new PromiseOp(info.Env());
    Napi::Promise p = op->promise();
    HttpServer* server = server_;
    server_ = nullptr;
    if (port_) {
      port_->Release();  // the pending promise keeps the loop alive until it settles
      port_ = nullptr;
    }
    if (!server) {
      op->Post([](Napi::Env env, Napi::Promise::Deferred& d) { d.Resolve(Napi::Boolean::New(env, true)); });
      return p;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(info[0].As<Napi::Number>().Int32Value());
    std::thread([server, deadline, op] {
      bool ended = server->Shutdown(deadline);
      if (ended) delete server;
      op->Post([ended](Napi::Env env, Napi::Promise::Deferred& d) { d.Resolve(Napi::Boolean::New(env, ended)); });
    }).detach();
    return p;
  }

  static void StopOnTeardown(void* arg) {
    auto* self = static_cast<HttpServerHandle*>(arg);
    self->hooked_ = false;
    HttpServer* server = self->server_;
    self->server_ = nullptr;
    self->port_ = nullptr;  // closed with the environment
    if (!server) return;
    // Connections are cut; requests still running end when ReleaseEnvironment interrupts their
    // groups. The server (and the groups it holds) goes once its threads have ended.
    if (server->Shutdown(std::chrono::steady_clock::now())) {
      delete server;
      return;
    }
    std::thread([server] {
      if (server->Shutdown(std::chrono::steady_clock::now() + std::chrono::hours(24 * 365))) delete server;
    }).detach();
  }

  void Unhook() {
    if (hooked_) napi_remove_env_cleanup_hook(Env(), StopOnTeardown, this);
    hooked_ = false;
  }

  HttpServer* server_ = nullptr;
  CompletionPort* port_ = nullptr;
  bool hooked_ = false;
};

}  // namespace

void InitHttpServerBinding(Napi::Env env, Napi::Object exports) {
  exports.Set("HttpServer", HttpServerHandle::Define(env));
}

}  // namespace pyhost
