#include "http/app_runner.h"

#include "python/group.h"
#include "python/log.h"

namespace pyhost {

AppRunner::AppRunner(const std::vector<HttpApp>& apps) : apps_(apps) {
  for (const HttpApp& a : apps) {
    running_.emplace_back(new std::atomic<int>[a.groups.size()]);
    for (size_t i = 0; i < a.groups.size(); i++) running_.back()[i] = 0;
  }
}

void AppRunner::Run(int app_index, HttpRequest* req) {
  const HttpApp& app = apps_[static_cast<size_t>(app_index)];
  std::atomic<int>* running = running_[static_cast<size_t>(app_index)].get();
  // The scheduler's replica rule (leastLoaded in ts/scheduler/admission.ts: the least loaded,
  // the first of equals), applied here because no JavaScript runs per request.
  size_t pick = 0;
  for (size_t i = 1; i < app.groups.size(); i++) {
    if (running[i].load(std::memory_order_relaxed) < running[pick].load(std::memory_order_relaxed)) pick = i;
  }
  Group& group = *app.groups[pick];
  running[pick].fetch_add(1, std::memory_order_relaxed);
  group.RunHere(req);
  if (req->refused()) {
    // TypeScript decided (fallbackGlobal, from ts/scheduler/fallback.ts) and words it: the
    // event "@refused MODULE moved" or "@refused MODULE kept IMPORTERROR" is read by the
    // engine's log handler (ts/engine.ts), as a daemon process's is by ts/daemon/process.ts.
    if (app.fallback_global) {
      Log(LogLevel::kWarn, group.name(), "@refused " + req->refused_module() + " moved", group.owner());
      group.Rehome();
      req->ClearRefused();
      group.RunHere(req);
    } else {
      Log(LogLevel::kWarn, group.name(), "@refused " + req->refused_module() + " kept " + req->refused_message(), group.owner());
      req->Abort(ErrorInfo::Make("ERR_EXTENSION_REFUSED", ""));  // logged by TypeScript, with advice
    }
  }
  running[pick].fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace pyhost
