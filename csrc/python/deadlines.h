// Hard deadlines on running jobs. A job with a timeout is interrupted once it has *run* that long
// (the clock starts when a worker starts it, never while it waits in the queue): _pyhost.CallTimeout,
// a BaseException, is raised in its thread, and raised again every kRepeat until the job ends, so
// neither `except Exception` nor a bare `except` holds it for long. The interpreter's wake hook
// (_pyhost.set_wake_hook) ends a wait its code made interruptible. A job still running a grace
// period after its deadline is reported stuck (Job::OnStuck): what to do then (quarantine,
// killing the process) is the host's decision. Cancel does the same at once, raising
// _pyhost.Cancelled.
#pragma once
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "python/job.h"

namespace pyhost {

class Group;

class Deadlines {
 public:
  // Between two interrupts of a job that has not ended yet.
  static constexpr std::chrono::milliseconds kRepeat{10};

  static Deadlines& Get();

  // Worker thread, as `job` starts (job->has_deadline()).
  void Arm(const std::shared_ptr<Group>& group, Job* job);
  // Stops interrupting the job; returns how it was interrupted. Idempotent.
  InterruptKind Disarm(Group* group, uint64_t seq);
  // The job is still armed (GIL of its interpreter held by the caller, so it cannot change).
  bool Armed(Group* group, uint64_t seq);
  // Interrupts a running, armed job now and until it ends; false if it is not running.
  bool Cancel(Group* group, uint64_t seq);

 private:
  using Key = std::pair<Group*, uint64_t>;
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::weak_ptr<Group> group;
    Job* job;  // alive while the entry exists: jobs disarm before they report their outcome
    Clock::time_point deadline;  // max() without a timeout
    Clock::time_point stuck_at;  // set when first interrupted
    Clock::time_point next_raise;
    InterruptKind kind = InterruptKind::kNone;
    bool visiting = false;  // an interrupt waits for the interpreter's GIL: one at a time
    bool stuck_reported = false;
  };

  Deadlines() = default;
  void Loop();
  // Lock held: interrupts the entry (again); schedules the next one.
  void FireLocked(const Key& key, Entry& e, Clock::time_point now);

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Key, Entry> entries_;
  bool started_ = false;
};

}  // namespace pyhost
