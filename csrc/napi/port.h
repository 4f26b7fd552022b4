// Completions back to Node's event loop: worker threads post, the loop thread delivers them in
// batches (one uv_async wake-up for however many arrived). One port per Node environment.
#pragma once
#include <napi.h>
#include <uv.h>

#include <mutex>
#include <vector>

namespace pyhost {

class Deliverable {
 public:
  virtual ~Deliverable() = default;
  // On the loop thread, inside a HandleScope. The deliverable decides whether it is deleted
  // (return true) or stays alive for a later post (streaming requests).
  virtual bool Deliver(Napi::Env env) = 0;
};

class CompletionPort {
 public:
  explicit CompletionPort(Napi::Env env);
  // Any thread. After Close, items are dropped (not delivered, not freed).
  void Post(Deliverable* item);
  // Loop thread: keep the loop alive while work is outstanding.
  void Hold();
  void Release();
  // Work that will never complete (Python abandoned): stop keeping the loop alive for it.
  void DropHolds();
  // Loop thread: for the next `micros` µs the loop polls for completions without sleeping (an
  // idle handle makes each turn's epoll wait return at once), and posts during that window skip
  // the uv_async wake-up. A caller awaiting each call then pays no wake-up of the loop thread;
  // timers and I/O go on as usual, since nothing blocks inside a turn.
  void PollFor(int micros);
  // Loop thread, at environment teardown. The port itself is never freed: worker threads may
  // still hold a pointer to it.
  void Close();
  Napi::Env env() const { return env_; }
  // Loop thread: batches delivered after a uv_async wake-up, and by a polling turn (PollFor).
  uint64_t woken_deliveries() const { return woken_deliveries_; }
  uint64_t polled_deliveries() const { return polled_deliveries_; }

 private:
  static void OnAsync(uv_async_t* handle);
  static void OnPollTurn(uv_idle_t* handle);
  // Returns how many items it delivered.
  size_t Drain();
  // Under mu_: whether a post must wake the loop.
  bool NeedsWakeLocked() const { return pending_.empty() && !polling_; }

  Napi::Env env_;
  uv_async_t async_;
  uv_idle_t poll_turn_;
  uint64_t poll_until_ns_ = 0;  // loop thread
  uint64_t woken_deliveries_ = 0, polled_deliveries_ = 0;  // loop thread
  std::mutex mu_;
  bool polling_ = false;  // under mu_: the loop looks at pending_ every turn
  std::vector<Deliverable*> pending_;
  std::vector<Deliverable*> draining_;
  int holds_ = 0;
  bool closed_ = false;
};

}  // namespace pyhost
