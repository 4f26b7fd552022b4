// GroupHandle: a JS handle on one application group; submits calls to its workers.
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "python/calls.h"
#include "python/deadlines.h"
#include "python/group.h"
#include "python/inspect.h"
#include "python/interp_pool.h"
#include "python/pyref.h"
#include "addon/addon_data.h"
#include "addon/host_binding.h"
#include "addon/js_value.h"
#include "addon/call_results.h"
#include "addon/promise_op.h"

namespace pyhost {
namespace {

class BatchCallJob;

// Cancellable calls in flight, by id: JS cancels by id (an AbortSignal, a timeout it gave up on).
class CallRegistry {
 public:
  void Add(uint32_t id, BatchCallJob* job);
  void Remove(uint32_t id);
  bool Cancel(uint32_t id);

 private:
  std::mutex mu_;
  std::unordered_map<uint32_t, BatchCallJob*> jobs_;
};

// An exec/eval/call from JS, submitted in a batch (GroupHandle.submitCalls); its outcome goes
// back through the environment's CallResults. With a hard deadline (python/deadlines.h) it ends
// as interrupted (ERR_TIMEOUT / ERR_CANCELLED, carrying what Python produced) however Python
// ended, and as ERR_STUCK as soon as it is reported stuck (its real end is then dropped by JS).
class BatchCallJob : public Job {
 public:
  BatchCallJob(CallResults* results, CallRegistry* registry, uint32_t id, CallRequest req)
      : results_(results), registry_(registry), id_(id), req_(std::move(req)) {
    spin_after = true;  // its JS caller likely awaits it and submits the next call at once
  }

  void Run(Worker& w) override {
    CallOutcome outcome;
    InterruptKind interrupted = InterruptKind::kNone;
    if (cancelled_.load()) {
      interrupted = InterruptKind::kCancelled;  // cancelled while it waited: never ran
      EndDeadline();
    } else {
      outcome = RunCall(w, req_);
      interrupted = EndDeadline();
    }
    w.OutcomeSending();
    Finish(std::move(outcome), interrupted);
  }
  void Abort(const ErrorInfo& why) override {
    if (cancellable) registry_->Remove(id_);
    results_->AddError(id_, why, true);
    delete this;
  }
  void OnStuck() override {
    stuck_.store(true);
    results_->AddError(id_, ErrorInfo::Make("ERR_STUCK", "the call did not stop within " + std::to_string(grace_ms) +
                                                             " ms of being interrupted (stuck in C code that holds the GIL, or catching every exception)"),
                       true);
  }
  // Loop thread (through the registry): cancel before it runs, or interrupt it running.
  void Cancel() {
    cancelled_.store(true);
    if (group_) Deadlines::Get().Cancel(group_, seq);
  }
  uint32_t id() const { return id_; }
  void set_group(Group* g) { group_ = g; }

 private:
  void Finish(CallOutcome outcome, InterruptKind interrupted) {
    if (cancellable) registry_->Remove(id_);
    // A call reported stuck has had its final word.
    results_->AddOutcome(id_, std::move(outcome), req_.kind == CallRequest::kExec, interrupted, timeout_ms, !stuck_.load());
    delete this;
  }

  CallResults* results_;
  CallRegistry* registry_;
  uint32_t id_;
  CallRequest req_;
  Group* group_ = nullptr;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> stuck_{false};
};

// CallRegistry: cancellable calls in flight, by id (loop thread cancels; workers remove).
void CallRegistry::Add(uint32_t id, BatchCallJob* job) {
  std::lock_guard<std::mutex> lock(mu_);
  jobs_[id] = job;
}
void CallRegistry::Remove(uint32_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.erase(id);
}
bool CallRegistry::Cancel(uint32_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return false;
  it->second->Cancel();
  return true;
}

CallResults* Results(Napi::Env env) {
  AddonData* d = Data(env);
  if (!d->call_results) d->call_results = new CallResults(d->port);  // lives as long as the process
  return static_cast<CallResults*>(d->call_results);
}

CallRegistry* Registry(Napi::Env env) {
  AddonData* d = Data(env);
  if (!d->call_registry) d->call_registry = new CallRegistry();
  return static_cast<CallRegistry*>(d->call_registry);
}

// One call of a submitCalls batch: ops[at..at+kOpFields) = id, kind (0 exec, 1 eval, 2 call),
// source or module, func, args, kwargs, limits ({timeoutMs, graceMs, cancellable} or undefined).
constexpr uint32_t kOpFields = 7;

CallRequest ReadCall(const Napi::Array& ops, uint32_t at) {
  CallRequest req;
  int kind = ops.Get(at + 1).ToNumber().Int32Value();
  req.kind = kind == 0 ? CallRequest::kExec : kind == 1 ? CallRequest::kEval : CallRequest::kCall;
  if (req.kind == CallRequest::kCall) {
    req.module = ops.Get(at + 2).As<Napi::String>().Utf8Value();
    req.func = ops.Get(at + 3).As<Napi::String>().Utf8Value();
    Napi::Value args = ops.Get(at + 4);
    if (args.IsArray()) {
      auto arr = args.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); i++) req.args.push_back(ValueFromJs(arr.Get(i), "args[" + std::to_string(i) + "]"));
    }
    Napi::Value kwargs = ops.Get(at + 5);
    if (kwargs.IsObject()) req.kwargs = ValueFromJs(kwargs, "kwargs").fields;
  } else {
    req.source = ops.Get(at + 2).As<Napi::String>().Utf8Value();
  }
  return req;
}

// A µs option of the scheduler's policy (validated in ts/scheduler/policy.ts): 0 when absent.
int MicrosOption(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  return v.IsNumber() ? std::clamp(v.As<Napi::Number>().Int32Value(), 0, 10000) : 0;
}

class GroupHandle : public Napi::ObjectWrap<GroupHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "GroupHandle",
                       {InstanceMethod<&GroupHandle::SubmitCalls>("submitCalls"), InstanceMethod<&GroupHandle::Rehome>("rehome"),
                        InstanceMethod<&GroupHandle::Close>("close"), InstanceMethod<&GroupHandle::Info>("info"),
                        InstanceMethod<&GroupHandle::DumpStacks>("dumpStacks"),
                        InstanceMethod<&GroupHandle::Interrupt>("interrupt"),
                        InstanceMethod<&GroupHandle::Cancel>("cancel"),
                        InstanceMethod<&GroupHandle::CloseAndWait>("closeAndWait"),
                        InstanceAccessor<&GroupHandle::Pooled>("pooled")});
  }

  // new GroupHandle({name, kind: 'main'|'shared'|'own', strictExtensions, threads, path, pooled, host?: {id, names}, spinMicros?, loopPollMicros?})
  explicit GroupHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GroupHandle>(info) {
    Napi::Object o = info[0].As<Napi::Object>();
    GroupOptions opts;
    opts.name = o.Get("name").ToString().Utf8Value();
    std::string kind = o.Get("kind").ToString().Utf8Value();
    opts.kind = kind == "main" ? InterpKind::kMain : kind == "own" ? InterpKind::kOwnGil : InterpKind::kSharedGil;
    opts.strict_extensions = o.Get("strictExtensions").ToBoolean().Value();
    opts.threads = o.Get("threads").ToNumber().Int32Value();
    opts.spin_micros = MicrosOption(o, "spinMicros");
    loop_poll_micros_ = MicrosOption(o, "loopPollMicros");
    Napi::Value path = o.Get("path");
    if (path.IsArray()) {
      auto arr = path.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); i++) opts.path.push_back(arr.Get(i).ToString().Utf8Value());
    }
    opts.host = MakeHostChannel(info.Env(), o.Get("host"));
    if (o.Get("pooled").ToBoolean().Value() && opts.kind != InterpKind::kMain) {
      opts.adopt = InterpPool::Get().Take(opts.kind, opts.strict_extensions);
      pooled_ = opts.adopt != nullptr;
    }
    group_ = Group::Create(std::move(opts));
    AddonData* data = Data(info.Env());
    if (data->groups.size() >= 64 && (data->groups.size() & (data->groups.size() - 1)) == 0) {
      // At each power of two, forget groups that are gone (a harness makes thousands).
      auto& gs = data->groups;
      gs.erase(std::remove_if(gs.begin(), gs.end(), [](const std::weak_ptr<Group>& g) { return g.expired(); }), gs.end());
    }
    data->groups.push_back(group_);
    port_ = data->port;
    group_->set_owner(port_);
  }
  ~GroupHandle() override {
    if (group_) group_->Close();
  }

  std::shared_ptr<Group> group() const { return group_; }

 private:
  // submitCalls(ops): queues a batch of calls (see ReadCall), waking a worker once. Their
  // outcomes come back through the CallResults handler. A call whose arguments cannot pass to
  // Python ends at once with ERR_CONVERSION.
  Napi::Value SubmitCalls(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ops = info[0].As<Napi::Array>();
    CallResults* results = Results(env);
    CallRegistry* registry = Registry(env);
    uint32_t n = ops.Length() / kOpFields;
    results->Hold(n);
    for (uint32_t i = 0; i < n; i++) {
      uint32_t at = i * kOpFields;
      auto id = ops.Get(at).ToNumber().Uint32Value();
      BatchCallJob* job;
      try {
        job = new BatchCallJob(results, registry, id, ReadCall(ops, at));
      } catch (const Napi::Error& e) {
        results->AddError(id, ErrorInfo::Make("ERR_CONVERSION", e.Message()), true);
        continue;
      }
      Napi::Value limits = ops.Get(at + 6);
      if (limits.IsObject()) {
        Napi::Object o = limits.As<Napi::Object>();
        job->timeout_ms = o.Get("timeoutMs").ToNumber().Int32Value();
        if (o.Has("graceMs")) job->grace_ms = o.Get("graceMs").ToNumber().Int32Value();
        job->cancellable = o.Get("cancellable").ToBoolean().Value();
      }
      if (job->cancellable) {
        job->set_group(group_.get());
        registry->Add(id, job);
      }
      group_->Submit(job, /*wake=*/false);
    }
    group_->Wake();
    port_->PollFor(loop_poll_micros_);
    return env.Undefined();
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
    r.Set("spinMisses", static_cast<double>(group_->spin_misses()));
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

  // cancel(id) -> boolean: a cancellable call of this environment that has not ended: stopped
  // before it runs, or interrupted (python/deadlines.h) until it ends; false if it has ended.
  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), Registry(info.Env())->Cancel(info[0].ToNumber().Uint32Value()));
  }


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
  int loop_poll_micros_ = 0;  // SchedulerPolicy.loopPollMicros
  bool pooled_ = false;
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

// setCallResults(fn): fn(ids, outcomes, kinds) takes each batch of call outcomes (CallResults).
Napi::Value SetCallResults(const Napi::CallbackInfo& info) {
  Results(info.Env())->SetHandler(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

void InitGroupBinding(Napi::Env env, Napi::Object exports) {
  exports.Set("setCallResults", Napi::Function::New(env, SetCallResults, "setCallResults"));
  exports.Set("poolSetTarget", Napi::Function::New(env, PoolSetTarget, "poolSetTarget"));
  exports.Set("poolStats", Napi::Function::New(env, PoolStats, "poolStats"));
  Napi::Function ctor = GroupHandle::Define(env);
  Data(env)->group_ctor = Napi::Persistent(ctor);
  exports.Set("GroupHandle", ctor);
}

}  // namespace pyhost
