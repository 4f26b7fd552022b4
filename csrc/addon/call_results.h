// Results of exec/eval/call reach JS in batches: every call that ended since the last turn of
// the loop goes to one JS function at once, as (ids, outcomes, kinds), instead of one promise
// settled per call; calls are submitted in batches too (GroupHandle.submitCalls). One crossing
// of the N-API boundary per loop turn each way.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "napi/port.h"
#include "python/calls.h"
#include "python/job.h"

namespace pyhost {

// What an outcome is (the kinds array): test/native-flags.test.ts checks ts/native/types.ts.
enum CallOutcomeKind : int { kOutcomeValue = 0, kOutcomeUndefined = 1, kOutcomeError = 2 };

class CallResults : public Deliverable {
 public:
  explicit CallResults(CompletionPort* port) : port_(port) {}

  // Any thread. `final`: the call's last word (it releases the call's hold on the loop).
  void AddOutcome(uint32_t id, CallOutcome outcome, bool exec, InterruptKind interrupted, int timeout_ms, bool final);
  void AddError(uint32_t id, ErrorInfo error, bool final);

  // Loop thread: the calls submitted now keep the loop alive until their final outcome.
  void Hold(size_t calls);
  // Loop thread: the JS function that takes the batches.
  void SetHandler(Napi::Function fn) { handler_ = Napi::Persistent(fn); }

  bool Deliver(Napi::Env env) override;

 private:
  struct Entry {
    uint32_t id;
    bool exec;
    bool final;
    InterruptKind interrupted;
    int timeout_ms;
    CallOutcome outcome;
  };
  void Add(Entry e);

  CompletionPort* port_;
  Napi::FunctionReference handler_;
  std::mutex mu_;
  std::vector<Entry> pending_, delivering_;
  bool posted_ = false;
};

}  // namespace pyhost
