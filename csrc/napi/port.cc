#include "napi/port.h"

namespace pyhost {

CompletionPort::CompletionPort(Napi::Env env) : env_(env) {
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  uv_async_init(loop, &async_, &CompletionPort::OnAsync);
  async_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
}

void CompletionPort::Post(Deliverable* item) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) {
      wake = false;
    } else {
      wake = pending_.empty();
      pending_.push_back(item);
      item = nullptr;
    }
  }
  if (item) return;  // closed: the environment is going away; leak rather than free under a worker
  if (wake) uv_async_send(&async_);
}

void CompletionPort::Hold() {
  if (holds_++ == 0 && !closed_) uv_ref(reinterpret_cast<uv_handle_t*>(&async_));
}

void CompletionPort::Release() {
  if (--holds_ == 0 && !closed_) uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
}

void CompletionPort::DropHolds() {
  if (holds_ > 0 && !closed_) uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
  holds_ = 0;
}

void CompletionPort::OnAsync(uv_async_t* handle) { static_cast<CompletionPort*>(handle->data)->Drain(); }

void CompletionPort::Drain() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    draining_.swap(pending_);
  }
  Napi::HandleScope scope(env_);
  for (Deliverable* item : draining_) {
    bool done = true;
    try {
      done = item->Deliver(env_);
    } catch (const Napi::Error& e) {
      // A throwing JS callback must not lose the other completions of this batch.
      napi_value err = e.Value();
      napi_fatal_exception(env_, err);
    }
    if (done) delete item;
  }
  draining_.clear();
}

void CompletionPort::Close() {
  std::vector<Deliverable*> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    dropped.swap(pending_);
  }
  (void)dropped;  // not freed: workers may still reference them
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
}

}  // namespace pyhost
