// A unit of work a group's worker runs with the interpreter's GIL held.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "python/error_info.h"

namespace pyhost {

class Group;
class Worker;

// How a running job was interrupted (python/deadlines.h).
enum class InterruptKind { kNone, kTimeout, kCancelled };

class Job {
 public:
  virtual ~Job() = default;
  // On a worker thread, GIL of the worker's interpreter held. The job reports its own outcome
  // (to its host's completion mechanism) before returning or later, and owns its lifetime.
  // A job with a hard deadline calls EndDeadline() before it reports its outcome.
  virtual void Run(Worker& worker) = 0;
  // Instead of Run, when the job will never run (group closed, interpreter failed to start).
  // Any thread, no GIL.
  virtual void Abort(const ErrorInfo& why) = 0;
  // Deadlines thread, while the job still runs: it went on for the grace period after it was
  // interrupted (stuck in C code that holds the GIL, or swallowing every exception). What to do
  // is the host's decision. Must not block.
  virtual void OnStuck() {}

  // Set by Group::Submit: names the job for Group::Interrupt.
  uint64_t seq = 0;
  // Hard deadline (python/deadlines.h), in milliseconds of running time (0: none), and how long an
  // interrupted job may take to end before OnStuck. `cancellable` arms the job without a
  // timeout, so Deadlines::Cancel can reach it.
  int timeout_ms = 0;
  int grace_ms = 2000;
  bool cancellable = false;

  // Its caller typically submits the next job within µs of this one's outcome (a JS caller
  // awaiting each call): the worker may poll for it before sleeping (GroupOptions::spin_micros).
  bool spin_after = false;

  bool has_deadline() const { return timeout_ms > 0 || cancellable; }

  // Stops the job's deadline (idempotent) and says how the job was interrupted, if it was.
  // Call it on the worker thread before reporting the outcome: after that the job may be gone,
  // and the deadline must not reach it.
  InterruptKind EndDeadline();

 private:
  friend class Group;
  Group* deadline_group_ = nullptr;  // set while armed
};

}  // namespace pyhost
