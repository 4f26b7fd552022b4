// GroupHandle: a JS handle on one application group; submits calls to its workers.
#include <memory>

#include "python/calls.h"
#include "python/deadlines.h"
#include "python/group.h"
#include "python/inspect.h"
#include "python/interp_pool.h"
#include "python/pyref.h"
#include "addon/addon_data.h"
#include "addon/js_value.h"
#include "addon/promise_op.h"

namespace pyhost {
namespace {

// An exec/eval/call from JS. With a hard deadline (core/deadlines.h) it settles as interrupted
// (ERR_TIMEOUT / ERR_CANCELLED, carrying what Python produced) however Python ended, and as
// ERR_STUCK as soon as it is reported stuck; its real end, if it comes, is then dropped.
class NodeCallJob : public Job, public Deliverable {
 public:
  NodeCallJob(Napi::Env env, CompletionPort* port, CallRequest req)
      : port_(port), deferred_(Napi::Promise::Deferred::New(env)), req_(std::move(req)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Run(Worker& w) override {
    outcome_ = RunCall(w, req_);
    interrupted_ = EndDeadline();
    port_->Post(this);
  }
  void Abort(const ErrorInfo& why) override {
    outcome_.error = why;
    port_->Post(this);
  }
  void OnStuck() override { port_->Post(new StuckNotice(this)); }

  bool Deliver(Napi::Env env) override {
    if (stuck_settled_) return true;  // settled as stuck; the hold was released then
    port_->Release();
    if (interrupted_ != InterruptKind::kNone) {
      deferred_.Reject(InterruptedToJs(env));
    } else if (!outcome_.error.empty()) {
      deferred_.Reject(ErrorToJs(env, outcome_.error));
    } else if (req_.kind == CallRequest::kExec) {
      deferred_.Resolve(env.Undefined());
    } else {
      deferred_.Resolve(ValueToJs(env, outcome_.value));
    }
    return true;
  }

 private:
  // Posted by OnStuck, before the job can post its own end (it disarms first), so it is
  // delivered first and the job is alive then.
  class StuckNotice : public Deliverable {
   public:
    explicit StuckNotice(NodeCallJob* job) : job_(job) {}
    bool Deliver(Napi::Env env) override {
      job_->SettleStuck(env);
      return true;
    }

   private:
    NodeCallJob* job_;
  };

  void SettleStuck(Napi::Env env) {
    stuck_settled_ = true;
    port_->Release();  // a call that may never end must not keep Node's event loop alive
    deferred_.Reject(ErrorToJs(env, ErrorInfo::Make("ERR_STUCK", "the call did not stop within " + std::to_string(grace_ms) +
                                                                     " ms of being interrupted (stuck in C code that holds the GIL, or catching every exception)")));
  }

  // ERR_TIMEOUT / ERR_CANCELLED with what Python produced: `value` if it returned, else its
  // exception's type, message and traceback.
  Napi::Object InterruptedToJs(Napi::Env env) {
    bool timeout = interrupted_ == InterruptKind::kTimeout;
    ErrorInfo e = outcome_.error;
    std::string what = timeout ? "the call ran past its timeout of " + std::to_string(timeout_ms) + " ms" : "the call was cancelled";
    Napi::Object o = ErrorToJs(env, e);
    o.Set("code", timeout ? "ERR_TIMEOUT" : "ERR_CANCELLED");
    o.Set("message", what);
    if (e.empty() && req_.kind != CallRequest::kExec) o.Set("value", ValueToJs(env, outcome_.value));
    if (!e.message.empty()) o.Set("pythonMessage", e.message);
    return o;
  }

  CompletionPort* port_;
  Napi::Promise::Deferred deferred_;
  CallRequest req_;
  CallOutcome outcome_;
  InterruptKind interrupted_ = InterruptKind::kNone;
  bool stuck_settled_ = false;  // loop thread only
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
                        InstanceMethod<&GroupHandle::Cancel>("cancel"),
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
      opts.adopt = InterpPool::Get().Take(opts.kind, opts.strict_extensions);
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
  // `limits` (optional): {timeoutMs, graceMs, cancellable} for a hard deadline.
  Napi::Value Submit(Napi::Env env, CallRequest req, Napi::Value limits) {
    auto* job = new NodeCallJob(env, port_, std::move(req));
    if (limits.IsObject()) {
      Napi::Object o = limits.As<Napi::Object>();
      job->timeout_ms = o.Get("timeoutMs").ToNumber().Int32Value();
      if (o.Has("graceMs")) job->grace_ms = o.Get("graceMs").ToNumber().Int32Value();
      job->cancellable = o.Get("cancellable").ToBoolean().Value();
    }
    Napi::Promise p = job->promise();
    port_->Hold();
    last_seq_ = group_->Submit(job);
    return p;
  }
  Napi::Value Exec(const Napi::CallbackInfo& info) {
    CallRequest req;
    req.kind = CallRequest::kExec;
    req.source = info[0].As<Napi::String>().Utf8Value();
    return Submit(info.Env(), std::move(req), info[1]);
  }
  Napi::Value Eval(const Napi::CallbackInfo& info) {
    CallRequest req;
    req.kind = CallRequest::kEval;
    req.source = info[0].As<Napi::String>().Utf8Value();
    return Submit(info.Env(), std::move(req), info[1]);
  }
  // call(module, func, args[], kwargs?, limits?)
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
    return Submit(info.Env(), std::move(req), info.Length() > 4 ? info[4] : info.Env().Undefined());
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

  // cancel(seq) -> boolean: interrupts job `seq` now and until it ends (core/deadlines.h), if
  // it runs with a deadline; false if it is not running.
  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    uint64_t seq = static_cast<uint64_t>(info[0].ToNumber().Int64Value());
    return Napi::Boolean::New(info.Env(), Deadlines::Get().Cancel(group_.get(), seq));
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
