// GroupHandle: a JS handle on one application group; submits calls to its workers.
#include <memory>

#include "core/calls.h"
#include "core/group.h"
#include "core/inspect.h"
#include "core/interp_pool.h"
#include "core/pyref.h"
#include "node/addon_data.h"
#include "node/js_value.h"
#include "node/promise_op.h"

namespace pyhost {
namespace {

class NodeCallJob : public Job, public Deliverable {
 public:
  NodeCallJob(Napi::Env env, CompletionPort* port, CallRequest req)
      : port_(port), deferred_(Napi::Promise::Deferred::New(env)), req_(std::move(req)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Run(Worker& w) override {
    outcome_ = RunCall(w, req_);
    port_->Post(this);
  }
  void Abort(const ErrorInfo& why) override {
    outcome_.error = why;
    port_->Post(this);
  }
  bool Deliver(Napi::Env env) override {
    port_->Release();
    if (!outcome_.error.empty()) {
      deferred_.Reject(ErrorToJs(env, outcome_.error));
    } else if (req_.kind == CallRequest::kExec) {
      deferred_.Resolve(env.Undefined());
    } else {
      deferred_.Resolve(ValueToJs(env, outcome_.value));
    }
    return true;
  }

 private:
  CompletionPort* port_;
  Napi::Promise::Deferred deferred_;
  CallRequest req_;
  CallOutcome outcome_;
};

class GroupHandle : public Napi::ObjectWrap<GroupHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "GroupHandle",
                       {InstanceMethod<&GroupHandle::Exec>("exec"), InstanceMethod<&GroupHandle::Eval>("eval"),
                        InstanceMethod<&GroupHandle::Call>("call"), InstanceMethod<&GroupHandle::Rehome>("rehome"),
                        InstanceMethod<&GroupHandle::Close>("close"), InstanceMethod<&GroupHandle::Info>("info"),
                        InstanceMethod<&GroupHandle::DumpStacks>("dumpStacks"),
                        InstanceMethod<&GroupHandle::Interrupt>("interrupt"),
                        InstanceMethod<&GroupHandle::CloseAndWait>("closeAndWait"),
                        InstanceAccessor<&GroupHandle::Pooled>("pooled"),
                        InstanceAccessor<&GroupHandle::LastSeq>("lastSeq")});
  }

  // new GroupHandle({name, kind: 'main'|'shared'|'own', strictExtensions, threads, path})
  explicit GroupHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GroupHandle>(info) {
    Napi::Object o = info[0].As<Napi::Object>();
    GroupOptions opts;
    opts.name = o.Get("name").ToString().Utf8Value();
    std::string kind = o.Get("kind").ToString().Utf8Value();
    opts.kind = kind == "main" ? InterpKind::kMain : kind == "own" ? InterpKind::kOwnGil : InterpKind::kSharedGil;
    opts.strict_extensions = o.Get("strictExtensions").ToBoolean().Value();
    opts.threads = o.Get("threads").ToNumber().Int32Value();
    Napi::Value path = o.Get("path");
    if (path.IsArray()) {
      auto arr = path.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); i++) opts.path.push_back(arr.Get(i).ToString().Utf8Value());
    }
    if (o.Get("pooled").ToBoolean().Value() && opts.kind != InterpKind::kMain) {
      opts.adopt = InterpPool::Get().Take(opts.kind, opts.strict_extensions || opts.kind == InterpKind::kOwnGil);
      pooled_ = opts.adopt != nullptr;
    }
    group_ = Group::Create(std::move(opts));
    port_ = Data(info.Env())->port;
    group_->set_owner(port_);
  }
  ~GroupHandle() override {
    if (group_) group_->Close();
  }

  std::shared_ptr<Group> group() const { return group_; }

 private:
  Napi::Value Submit(Napi::Env env, CallRequest req) {
    auto* job = new NodeCallJob(env, port_, std::move(req));
    Napi::Promise p = job->promise();
    port_->Hold();
    last_seq_ = group_->Submit(job);
    return p;
  }
  Napi::Value Exec(const Napi::CallbackInfo& info) {
    CallRequest req;
    req.kind = CallRequest::kExec;
    req.source = info[0].As<Napi::String>().Utf8Value();
    return Submit(info.Env(), std::move(req));
  }
  Napi::Value Eval(const Napi::CallbackInfo& info) {
    CallRequest req;
    req.kind = CallRequest::kEval;
    req.source = info[0].As<Napi::String>().Utf8Value();
    return Submit(info.Env(), std::move(req));
  }
  // call(module, func, args[], kwargs?)
  Napi::Value Call(const Napi::CallbackInfo& info) {
    CallRequest req;
    req.kind = CallRequest::kCall;
    req.module = info[0].As<Napi::String>().Utf8Value();
    req.func = info[1].As<Napi::String>().Utf8Value();
    if (info[2].IsArray()) {
      auto arr = info[2].As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); i++)
        req.args.push_back(ValueFromJs(arr.Get(i), "args[" + std::to_string(i) + "]"));
    }
    if (info.Length() > 3 && info[3].IsObject()) {
      pyhost::Value kw = ValueFromJs(info[3], "kwargs");
      req.kwargs = std::move(kw.fields);
    }
    return Submit(info.Env(), std::move(req));
  }
  Napi::Value Rehome(const Napi::CallbackInfo& info) {
    group_->Rehome();
    return info.Env().Undefined();
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    group_->Close();
    return info.Env().Undefined();
  }
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object r = Napi::Object::New(env);
    InterpKind k = group_->kind();
    r.Set("kind", k == InterpKind::kMain ? "main" : k == InterpKind::kOwnGil ? "own" : "shared");
    r.Set("queued", static_cast<double>(group_->queued()));
    r.Set("closed", group_->closed());
    auto busy = group_->busy_workers();
    Napi::Array b = Napi::Array::New(env, busy.size());
    for (size_t i = 0; i < busy.size(); i++) {
      Napi::Object w = Napi::Object::New(env);
      w.Set("thread", static_cast<double>(busy[i].ident));
      w.Set("busyMs", busy[i].busy_ms);
      b.Set(static_cast<uint32_t>(i), w);
    }
    r.Set("busy", b);
    return r;
  }

  // dumpStacks(threadIdent | 0) -> Promise<string>; never settles if the GIL is never released.
  Napi::Value DumpStacks(const Napi::CallbackInfo& info) {
    unsigned long ident = static_cast<unsigned long>(info[0].ToNumber().Int64Value());
    auto* op = new PromiseOp(info.Env(), /*weak=*/true);
    Napi::Promise p = op->promise();
    auto interp = group_->interp();
    bool visiting = VisitInterp(interp, [op, interp, ident] {
      std::string text = FormatThreadStacks(interp->state(), ident);
      op->Post([text](Napi::Env env, Napi::Promise::Deferred& d) { d.Resolve(Napi::String::New(env, text)); });
    });
    if (!visiting) {
      op->Post([](Napi::Env env, Napi::Promise::Deferred& d) { d.Resolve(Napi::String::New(env, "")); });
    }
    return p;
  }

  // interrupt(seq, 'TimeoutError' | 'SystemExit') -> Promise<boolean>: raises in the worker
  // running job `seq` (if it still does). Never settles if the GIL is never released.
  Napi::Value Interrupt(const Napi::CallbackInfo& info) {
    uint64_t seq = static_cast<uint64_t>(info[0].ToNumber().Int64Value());
    bool exit = info[1].ToString().Utf8Value() == "SystemExit";
    auto* op = new PromiseOp(info.Env(), /*weak=*/true);
    Napi::Promise p = op->promise();
    group_->Interrupt(seq, exit ? PyExc_SystemExit : PyExc_TimeoutError, [op](bool hit) {
      op->Post([hit](Napi::Env env, Napi::Promise::Deferred& d) { d.Resolve(Napi::Boolean::New(env, hit)); });
    });
    return p;
  }

  // The sequence number of the job submitted last (read right after exec/eval/call).
  Napi::Value LastSeq(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(last_seq_)); }

  // closeAndWait() -> Promise<boolean>: true once the sub-interpreter has ended.
  Napi::Value CloseAndWait(const Napi::CallbackInfo& info) {
    auto* op = new PromiseOp(info.Env(), /*weak=*/true);
    Napi::Promise p = op->promise();
    group_->CloseAndWait([op](bool ended) {
      op->Post([ended](Napi::Env env, Napi::Promise::Deferred& d) { d.Resolve(Napi::Boolean::New(env, ended)); });
    });
    return p;
  }

  Napi::Value Pooled(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), pooled_); }

  std::shared_ptr<Group> group_;
  CompletionPort* port_ = nullptr;
  bool pooled_ = false;
  uint64_t last_seq_ = 0;
};

}  // namespace

std::shared_ptr<Group> GroupFromJs(const Napi::Value& v) {
  return Napi::ObjectWrap<GroupHandle>::Unwrap(v.As<Napi::Object>())->group();
}

// poolSetTarget(kind, strict, n, prelude?): keep n warm interpreters of this kind, each having
// run `prelude`.
Napi::Value PoolSetTarget(const Napi::CallbackInfo& info) {
  std::string kind = info[0].ToString().Utf8Value();
  InterpPool::Get().SetTarget(kind == "own" ? InterpKind::kOwnGil : InterpKind::kSharedGil, info[1].ToBoolean().Value(),
                              info[2].ToNumber().Int32Value(), info[3].IsString() ? info[3].ToString().Utf8Value() : "");
  return info.Env().Undefined();
}

// poolStats(kind, strict) -> {idle, created}
Napi::Value PoolStats(const Napi::CallbackInfo& info) {
  std::string kind = info[0].ToString().Utf8Value();
  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("idle", InterpPool::Get().idle(kind == "own" ? InterpKind::kOwnGil : InterpKind::kSharedGil, info[1].ToBoolean().Value()));
  r.Set("created", InterpPool::Get().created());
  return r;
}

void InitGroupBinding(Napi::Env env, Napi::Object exports) {
  exports.Set("poolSetTarget", Napi::Function::New(env, PoolSetTarget, "poolSetTarget"));
  exports.Set("poolStats", Napi::Function::New(env, PoolStats, "poolStats"));
  Napi::Function ctor = GroupHandle::Define(env);
  Data(env)->group_ctor = Napi::Persistent(ctor);
  exports.Set("GroupHandle", ctor);
}

}  // namespace pyhost
