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
  // Loop thread, at environment teardown. The port itself is never freed: worker threads may
  // still hold a pointer to it.
  void Close();
  Napi::Env env() const { return env_; }

 private:
  static void OnAsync(uv_async_t* handle);
  void Drain();

  Napi::Env env_;
  uv_async_t async_;
  std::mutex mu_;
  std::vector<Deliverable*> pending_;
  std::vector<Deliverable*> draining_;
  int holds_ = 0;
  bool closed_ = false;
};

}  // namespace pyhost
