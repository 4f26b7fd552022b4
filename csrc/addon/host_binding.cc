// Host functions (python/host_call.h) on the Node side: a Python thread's call is posted to the
// environment that created its group and run there by the dispatcher ts/native/host-functions.ts
// installs; settleHostCall brings the outcome back. Calls still open when the environment ends
// fail in Python with HostError.
#include <mutex>
#include <unordered_map>

#include "addon/addon_data.h"
#include "addon/host_binding.h"
#include "addon/js_value.h"
#include "napi/js_call.h"

namespace pyhost {
namespace {

class HostCalls;

class HostCallDelivery : public Deliverable {
 public:
  HostCallDelivery(HostCalls* calls, uint32_t id, uint32_t host_id, std::shared_ptr<HostCall> call)
      : calls_(calls), id_(id), host_id_(host_id), call_(std::move(call)) {}
  bool Deliver(Napi::Env env) override;

 private:
  HostCalls* calls_;
  uint32_t id_;
  uint32_t host_id_;
  std::shared_ptr<HostCall> call_;
};

// This environment's open host calls, by id. Python threads post; the loop thread settles.
// Never freed: a Python thread may post after the environment has ended (and is refused).
class HostCalls {
 public:
  explicit HostCalls(CompletionPort* port) : port_(port) {}

  bool Post(uint32_t host_id, std::shared_ptr<HostCall> call) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    uint32_t id = ++next_id_;
    open_[id] = call;
    port_->Post(new HostCallDelivery(this, id, host_id, std::move(call)));
    return true;
  }

  // Loop thread. False if the call is no longer open (settled at a close).
  bool Settle(uint32_t id, bool ok, Value result, std::string error) {
    std::shared_ptr<HostCall> call;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = open_.find(id);
      if (it == open_.end()) return false;
      call = std::move(it->second);
      open_.erase(it);
    }
    SettleHostCall(call, ok, std::move(result), std::move(error));
    return true;
  }

  void CloseAll(const std::string& why) {
    std::unordered_map<uint32_t, std::shared_ptr<HostCall>> open;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      open.swap(open_);
    }
    for (auto& entry : open) SettleHostCall(entry.second, false, Value(), "pyhost.host." + entry.second->name + ": " + why);
  }

  Napi::FunctionReference dispatch;

 private:
  CompletionPort* port_;
  std::mutex mu_;
  bool closed_ = false;
  uint32_t next_id_ = 0;
  std::unordered_map<uint32_t, std::shared_ptr<HostCall>> open_;
};

bool HostCallDelivery::Deliver(Napi::Env env) {
  if (calls_->dispatch.IsEmpty()) {
    calls_->Settle(id_, false, Value(), "pyhost.host." + call_->name + ": this Engine takes no host calls");
    return true;
  }
  napi_value args[4] = {Napi::Number::New(env, host_id_), Napi::Number::New(env, id_),
                        Napi::String::New(env, call_->name), ValueToJs(env, call_->args)};
  CallDispatch(env, calls_->dispatch, 4, args);
  return true;
}

class AddonHostChannel : public HostChannel {
 public:
  AddonHostChannel(HostCalls* calls, uint32_t host_id, std::vector<std::string> names)
      : HostChannel(std::move(names)), calls_(calls), host_id_(host_id) {}
  bool Post(std::shared_ptr<HostCall> call) override { return calls_->Post(host_id_, std::move(call)); }

 private:
  HostCalls* calls_;
  uint32_t host_id_;
};

HostCalls* Calls(Napi::Env env) {
  AddonData* d = Data(env);
  if (!d->host_calls) d->host_calls = new HostCalls(d->port);
  return static_cast<HostCalls*>(d->host_calls);
}

// setHostDispatcher(fn(hostId, callId, name, args))
Napi::Value SetHostDispatcher(const Napi::CallbackInfo& info) {
  Calls(info.Env())->dispatch = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// settleHostCall(callId, ok, valueOrMessage) -> false if the call was no longer open. A value
// that cannot go to Python fails the call with the path of the offending item.
Napi::Value SettleHostCallJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = info[0].ToNumber().Uint32Value();
  bool ok = info[1].ToBoolean().Value();
  Value result;
  std::string error;
  if (ok) {
    try {
      result = ValueFromJs(info[2], "the host function's result");
    } catch (const Napi::Error& e) {
      ok = false;
      error = e.Message();
    }
  } else {
    error = info[2].ToString().Utf8Value();
  }
  return Napi::Boolean::New(env, Calls(env)->Settle(id, ok, std::move(result), std::move(error)));
}

}  // namespace

std::shared_ptr<HostChannel> MakeHostChannel(Napi::Env env, const Napi::Value& spec) {
  if (!spec.IsObject()) return nullptr;
  Napi::Object o = spec.As<Napi::Object>();
  std::vector<std::string> names;
  auto arr = o.Get("names").As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) names.push_back(arr.Get(i).ToString().Utf8Value());
  return std::make_shared<AddonHostChannel>(Calls(env), o.Get("id").ToNumber().Uint32Value(), std::move(names));
}

void CloseEnvironmentHostCalls(AddonData* data) {
  if (data->host_calls) static_cast<HostCalls*>(data->host_calls)->CloseAll("the host's thread ended");
}

void InitHostBinding(Napi::Env env, Napi::Object exports) {
  exports.Set("setHostDispatcher", Napi::Function::New(env, SetHostDispatcher, "setHostDispatcher"));
  exports.Set("settleHostCall", Napi::Function::New(env, SettleHostCallJs, "settleHostCall"));
}

}  // namespace pyhost
