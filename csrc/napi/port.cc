#include "napi/port.h"

namespace pyhost {
namespace {
constexpr int kPollMaxOutstanding = 16;
}  // namespace

CompletionPort::CompletionPort(Napi::Env env) : env_(env) {
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  uv_async_init(loop, &async_, &CompletionPort::OnAsync);
  async_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
  uv_idle_init(loop, &poll_turn_);
  poll_turn_.data = this;
  // Never keeps the loop alive by itself: the held async does that while work is outstanding.
  uv_unref(reinterpret_cast<uv_handle_t*>(&poll_turn_));
}

void CompletionPort::Post(Deliverable* item) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) {
      wake = false;
    } else {
      wake = NeedsWakeLocked();
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

void CompletionPort::OnAsync(uv_async_t* handle) {
  auto* port = static_cast<CompletionPort*>(handle->data);
  // A wake-up sent before a poll window opened may find its items already delivered.
  if (port->Drain() > 0) port->woken_deliveries_++;
}

void CompletionPort::PollFor(int micros) {
  // Only for a few outstanding items (callers awaiting each call): with many in flight the loop is
  // busy anyway, and a poll drains outcomes one by one where a wake-up takes them in one batch
  // (calls/s with 1,000 in flight fell with polling on).
  if (micros <= 0 || closed_ || holds_ > kPollMaxOutstanding) return;
  uint64_t until = uv_hrtime() + static_cast<uint64_t>(micros) * 1000;
  if (until > poll_until_ns_) poll_until_ns_ = until;
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&poll_turn_))) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    polling_ = true;
  }
  uv_idle_start(&poll_turn_, &CompletionPort::OnPollTurn);
}

void CompletionPort::OnPollTurn(uv_idle_t* handle) {
  auto* port = static_cast<CompletionPort*>(handle->data);
  bool ready;
  {
    std::lock_guard<std::mutex> lock(port->mu_);
    ready = !port->pending_.empty();
    // Past the window: from here on a post wakes the loop; what came before is drained now.
    if (!ready && uv_hrtime() >= port->poll_until_ns_) {
      port->polling_ = false;
      uv_idle_stop(handle);
    }
  }
  if (ready) {
    port->polled_deliveries_++;
    port->Drain();
  }
}

size_t CompletionPort::Drain() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    draining_.swap(pending_);
  }
  size_t delivered = draining_.size();
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
  return delivered;
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
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_turn_), nullptr);
}

}  // namespace pyhost
