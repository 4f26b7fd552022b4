// A promise settled on the loop thread with a value computed elsewhere.
#pragma once
#include <napi.h>

#include <functional>

#include "node/addon_data.h"
#include "node/port.h"

namespace pyhost {

class PromiseOp : public Deliverable {
 public:
  // `settle` runs on the loop thread: return a value to resolve, or throw a Napi::Error (or
  // return an object with reject=true semantics via Reject) to reject.
  using Settle = std::function<void(Napi::Env, Napi::Promise::Deferred&)>;

  explicit PromiseOp(Napi::Env env) : port_(Data(env)->port), deferred_(Napi::Promise::Deferred::New(env)) {
    port_->Hold();
  }
  Napi::Promise promise() { return deferred_.Promise(); }
  // Any thread: settles the promise on the loop thread. Call exactly once.
  void Post(Settle settle) {
    settle_ = std::move(settle);
    port_->Post(this);
  }
  bool Deliver(Napi::Env env) override {
    port_->Release();
    settle_(env, deferred_);
    return true;
  }

 private:
  CompletionPort* port_;
  Napi::Promise::Deferred deferred_;
  Settle settle_;
};

}  // namespace pyhost
