// A promise settled on the loop thread with a value computed elsewhere.
#pragma once
#include <napi.h>

#include <functional>

#include "addon/addon_data.h"
#include "napi/port.h"

namespace pyhost {

class PromiseOp : public Deliverable {
 public:
  // `settle` runs on the loop thread and settles the promise: d.Resolve(value) or d.Reject(error).
  using Settle = std::function<void(Napi::Env, Napi::Promise::Deferred&)>;

  // A `weak` op does not keep Node's event loop alive: for answers that may never come (an
  // interpreter whose GIL is never released).
  explicit PromiseOp(Napi::Env env, bool weak = false)
      : port_(Data(env)->port), deferred_(Napi::Promise::Deferred::New(env)), weak_(weak) {
    if (!weak_) port_->Hold();
  }
  Napi::Promise promise() { return deferred_.Promise(); }
  // Any thread: settles the promise on the loop thread. Call exactly once.
  void Post(Settle settle) {
    settle_ = std::move(settle);
    port_->Post(this);
  }
  bool Deliver(Napi::Env env) override {
    if (!weak_) port_->Release();
    settle_(env, deferred_);
    return true;
  }

 private:
  CompletionPort* port_;
  Napi::Promise::Deferred deferred_;
  Settle settle_;
  bool weak_;
};

}  // namespace pyhost
