#include "daemon/watchdog.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>

#include "python/inspect.h"
#include "python/log.h"

namespace pyhost {

void RunDeadlockWatchdog(const std::string& name, int timeout_s, InterpList interps, const std::atomic<bool>& stopping) {
  // A GIL that cannot be acquired for deadlock-timeout seconds means a deadlock (often a C
  // extension): exit so the front starts a fresh process.
  while (!stopping.load()) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    if (stopping.load()) break;
    for (auto& in : interps()) {
      auto done = std::make_shared<std::promise<void>>();
      auto fut = done->get_future();
      if (!VisitInterp(in, [done] { done->set_value(); })) continue;
      if (fut.wait_for(std::chrono::seconds(timeout_s)) != std::future_status::ready && !stopping.load()) {
        Log(LogLevel::kError, name,
            "deadlock detected: the GIL of interpreter " + in->name() + " could not be acquired for " +
                std::to_string(timeout_s) + " s; exiting so the process is replaced");
        std::_Exit(70);
      }
    }
  }
}

void LogStacks(const std::string& name, InterpList interps) {
  std::string report;
  for (auto& in : interps()) {
    auto done = std::make_shared<std::promise<std::string>>();
    auto fut = done->get_future();
    VisitInterp(in, [done, in] { done->set_value(FormatThreadStacks(in->state(), 0)); });
    if (fut.wait_for(std::chrono::seconds(2)) == std::future_status::ready) {
      report += "interpreter " + in->name() + ":\n" + fut.get();
    } else {
      report += "interpreter " + in->name() + ": its GIL was not released within 2 s (stuck in C code?)\n";
    }
  }
  Log(LogLevel::kError, name, "Python stacks of process " + std::to_string(getpid()) + ":\n" + report);
}

}  // namespace pyhost
