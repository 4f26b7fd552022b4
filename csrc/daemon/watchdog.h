// Looking after a daemon process's interpreters from outside: the deadlock watchdog (a GIL that
// cannot be had for the deadlock timeout ends the process, so its supervisor starts a fresh one)
// and stack dumps on demand (SIGUSR2).
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "python/interp.h"

namespace pyhost {

// The interpreters in use now (main first), without duplicates.
using InterpList = std::function<std::vector<std::shared_ptr<Interp>>()>;

// Runs until `stopping`: visits every interpreter once a second; exits the process with status
// 70 when one's GIL cannot be acquired for `timeout_s` seconds.
void RunDeadlockWatchdog(const std::string& name, int timeout_s, InterpList interps, const std::atomic<bool>& stopping);

// Logs the Python stacks of every thread of every interpreter (2 s per interpreter at most).
void LogStacks(const std::string& name, InterpList interps);

}  // namespace pyhost
