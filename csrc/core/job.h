// A unit of work a group's worker runs with the interpreter's GIL held.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "core/error_info.h"

namespace pyhost {

class Worker;

class Job {
 public:
  virtual ~Job() = default;
  // On a worker thread, GIL of the worker's interpreter held. The job reports its own outcome
  // (to its host's completion mechanism) before returning or later, and owns its lifetime.
  virtual void Run(Worker& worker) = 0;
  // Instead of Run, when the job will never run (group closed, interpreter failed to start).
  // Any thread, no GIL.
  virtual void Abort(const ErrorInfo& why) = 0;

  // Set by Group::Submit: names the job for Group::Interrupt.
  uint64_t seq = 0;
  // When it was queued (the wake-up policy lets a job wait briefly for a running worker).
  std::chrono::steady_clock::time_point queued_at{};
};

}  // namespace pyhost
