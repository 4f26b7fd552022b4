// startRuntime / shutdownRuntime / setLogHandler: the process-wide Python runtime from JS.
#include <atomic>
#include <cstdio>

#include "python/log.h"
#include "python/runtime.h"
#include "http/allocator_tuning.h"
#include "addon/addon_data.h"
#include "addon/js_value.h"
#include "addon/promise_op.h"
#include "wsgi/error_status.h"

namespace pyhost {
namespace {

// Lines that belong to no group go to the port of the environment that started the runtime.
std::atomic<CompletionPort*> g_runtime_port{nullptr};

class LogLine : public Deliverable {
 public:
  LogLine(LogLevel level, std::string group, std::string line)
      : level_(level), group_(std::move(group)), line_(std::move(line)) {}
  bool Deliver(Napi::Env env) override {
    AddonData* d = Data(env);
    if (d->log_handler.IsEmpty()) {
      std::fprintf(stderr, "[pyhost] [group %s] %s\n", group_.c_str(), line_.c_str());
    } else {
      d->log_handler.Call({Napi::Number::New(env, static_cast<int>(level_)), Napi::String::New(env, group_),
                           Napi::String::New(env, line_)});
    }
    return true;
  }

 private:
  LogLevel level_;
  std::string group_, line_;
};

void NodeLogSink(LogLevel level, const std::string& group, const std::string& line, void* owner) {
  CompletionPort* port = owner ? static_cast<CompletionPort*>(owner) : g_runtime_port.load();
  if (!port) {
    std::fprintf(stderr, "[pyhost] [group %s] %s\n", group.c_str(), line.c_str());
    return;
  }
  port->Post(new LogLine(level, group, line));
}

std::vector<std::string> StringArray(const Napi::Value& v) {
  std::vector<std::string> out;
  if (!v.IsArray()) return out;
  auto arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(arr.Get(i).ToString().Utf8Value());
  return out;
}

// startRuntime({program, home, path, optimize, allocator, errorStatuses}) -> Promise<{version}>
Napi::Value StartRuntime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  RuntimeOptions opts;
  if (o.Get("program").IsString()) opts.program = o.Get("program").As<Napi::String>().Utf8Value();
  if (o.Get("home").IsString()) opts.home = o.Get("home").As<Napi::String>().Utf8Value();
  opts.path = StringArray(o.Get("path"));
  if (o.Get("optimize").IsNumber()) opts.optimize = o.Get("optimize").ToNumber().Int32Value();
  if (o.Get("allocator").IsString()) opts.allocator = o.Get("allocator").As<Napi::String>().Utf8Value();
  if (o.Get("errorStatuses").IsArray()) {
    std::vector<std::pair<std::string, int>> table;
    auto arr = o.Get("errorStatuses").As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
      auto pair = arr.Get(i).As<Napi::Array>();
      table.emplace_back(pair.Get(0u).ToString().Utf8Value(), pair.Get(1u).ToNumber().Int32Value());
    }
    SetErrorStatuses(std::move(table));
  }
  if (o.Get("settings").IsString()) opts.settings = o.Get("settings").As<Napi::String>().Utf8Value();
  auto* op = new PromiseOp(env);
  Napi::Promise promise = op->promise();
  CompletionPort* port = Data(env)->port;
  CompletionPort* none = nullptr;
  g_runtime_port.compare_exchange_strong(none, port);  // the first environment's logger takes group-less lines
  SetLogSink(&NodeLogSink);
  // Response and body buffers cross threads in 64 KiB pieces: keep freed memory for reuse (as the
  // native front does) instead of giving it back to the kernel on every request.
  TuneAllocatorForServing();
  Runtime::Get().Start(opts, [op](ErrorInfo err, bool attached) {
    op->Post([err, attached](Napi::Env env, Napi::Promise::Deferred& d) {
      if (!err.empty()) {
        d.Reject(ErrorToJs(env, err));
        return;
      }
      Data(env)->attached = true;
      Napi::Object r = Napi::Object::New(env);
      r.Set("version", Runtime::Get().version());
      r.Set("attached", attached);
      // What the environment that started Python asked for (a later one must not ask for other).
      r.Set("settings", Runtime::Get().options().settings);
      d.Resolve(r);
    });
  });
  return promise;
}

// shutdownRuntime(timeoutMs) -> Promise<{finalized, report}>
Napi::Value ShutdownRuntime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int timeout = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 5000;
  // Not holding the loop: a shutdown stuck behind a GIL that never comes back must not keep Node
  // alive (the JS side bounds its wait with a timer).
  auto* op = new PromiseOp(env, /*weak=*/true);
  Napi::Promise promise = op->promise();
  Data(env)->attached = false;
  Runtime::Get().Shutdown(timeout, [op](bool finalized, std::string report) {
    op->Post([finalized, report](Napi::Env env, Napi::Promise::Deferred& d) {
      // Jobs stuck in a Python that was left running never complete: they must not keep Node alive.
      if (!finalized) Data(env)->port->DropHolds();
      Napi::Object r = Napi::Object::New(env);
      bool detached = report == "detached";  // other threads still use Python: only this one left
      r.Set("finalized", finalized && !detached);
      r.Set("detached", detached);
      r.Set("report", detached ? "" : report);
      d.Resolve(r);
    });
  });
  return promise;
}

// releaseLoop(): the JS side gave up waiting for Python; outstanding work no longer holds the loop.
Napi::Value ReleaseLoop(const Napi::CallbackInfo& info) {
  Data(info.Env())->port->DropHolds();
  return info.Env().Undefined();
}

Napi::Value SetLogHandler(const Napi::CallbackInfo& info) {
  AddonData* d = Data(info.Env());
  if (info[0].IsFunction()) d->log_handler = Napi::Persistent(info[0].As<Napi::Function>());
  else d->log_handler.Reset();
  return info.Env().Undefined();
}

Napi::Value RuntimeState(const Napi::CallbackInfo& info) {
  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("running", Runtime::Get().running());
  r.Set("version", Runtime::Get().version());
  r.Set("interpreters", Runtime::Get().live_interpreters());
  return r;
}

// completionStats(): how this environment's completions reached the loop (CompletionPort::PollFor).
Napi::Value CompletionStats(const Napi::CallbackInfo& info) {
  CompletionPort* port = Data(info.Env())->port;
  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("woken", static_cast<double>(port->woken_deliveries()));
  r.Set("polled", static_cast<double>(port->polled_deliveries()));
  return r;
}

}  // namespace

void ForgetRuntimePort(CompletionPort* port) {
  CompletionPort* expected = port;
  g_runtime_port.compare_exchange_strong(expected, nullptr);
}

void InitRuntimeBinding(Napi::Env env, Napi::Object exports) {
  exports.Set("startRuntime", Napi::Function::New(env, StartRuntime, "startRuntime"));
  exports.Set("shutdownRuntime", Napi::Function::New(env, ShutdownRuntime, "shutdownRuntime"));
  exports.Set("releaseLoop", Napi::Function::New(env, ReleaseLoop, "releaseLoop"));
  exports.Set("setLogHandler", Napi::Function::New(env, SetLogHandler, "setLogHandler"));
  exports.Set("runtimeState", Napi::Function::New(env, RuntimeState, "runtimeState"));
  exports.Set("completionStats", Napi::Function::New(env, CompletionStats, "completionStats"));
}

}  // namespace pyhost
