#include "addon/call_results.h"

#include "addon/js_value.h"
#include "napi/js_call.h"

namespace pyhost {
namespace {

// ERR_TIMEOUT / ERR_CANCELLED with what Python produced: `value` if it returned, else its
// exception's type, message and traceback.
Napi::Object InterruptedToJs(Napi::Env env, const CallOutcome& o, bool exec, InterruptKind kind, int timeout_ms) {
  bool timeout = kind == InterruptKind::kTimeout;
  Napi::Object e = ErrorToJs(env, o.error);
  e.Set("code", timeout ? "ERR_TIMEOUT" : "ERR_CANCELLED");
  e.Set("message", timeout ? "the call ran past its timeout of " + std::to_string(timeout_ms) + " ms" : std::string("the call was cancelled"));
  if (o.error.empty() && !exec) e.Set("value", ValueToJs(env, o.value));
  if (!o.error.message.empty()) e.Set("pythonMessage", o.error.message);
  return e;
}

}  // namespace

void CallResults::Add(Entry e) {
  bool post;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(std::move(e));
    post = !posted_;
    posted_ = true;
  }
  if (post) port_->Post(this);
}

void CallResults::AddOutcome(uint32_t id, CallOutcome outcome, bool exec, InterruptKind interrupted, int timeout_ms, bool final) {
  Add(Entry{id, exec, final, interrupted, timeout_ms, std::move(outcome)});
}

void CallResults::AddError(uint32_t id, ErrorInfo error, bool final) {
  CallOutcome o;
  o.error = std::move(error);
  Add(Entry{id, false, final, InterruptKind::kNone, 0, std::move(o)});
}

void CallResults::Hold(size_t calls) {
  for (size_t i = 0; i < calls; i++) port_->Hold();
}

bool CallResults::Deliver(Napi::Env env) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    delivering_.swap(pending_);
    posted_ = false;
  }
  size_t n = delivering_.size();
  Napi::Array ids = Napi::Array::New(env, n);
  Napi::Array outcomes = Napi::Array::New(env, n);
  Napi::Array kinds = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++) {
    Entry& e = delivering_[i];
    auto at = static_cast<uint32_t>(i);
    ids.Set(at, Napi::Number::New(env, e.id));
    int kind;
    if (e.interrupted != InterruptKind::kNone) {
      outcomes.Set(at, InterruptedToJs(env, e.outcome, e.exec, e.interrupted, e.timeout_ms));
      kind = kOutcomeError;
    } else if (!e.outcome.error.empty()) {
      outcomes.Set(at, ErrorToJs(env, e.outcome.error));
      kind = kOutcomeError;
    } else if (e.exec) {
      kind = kOutcomeUndefined;
    } else {
      outcomes.Set(at, ValueToJs(env, e.outcome.value));
      kind = kOutcomeValue;
    }
    kinds.Set(at, Napi::Number::New(env, kind));
    if (e.final) port_->Release();
  }
  delivering_.clear();
  if (!handler_.IsEmpty() && n) {
    napi_value args[3] = {ids, outcomes, kinds};
    CallDispatch(env, handler_, 3, args);
  }
  return false;  // lives as long as the environment: posted again for the next batch
}

}  // namespace pyhost
