#include "http/app_runner.h"

#include "python/group.h"

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
  RunHereWithFallback(group, req, req->refusal(), app.fallback_global);
  running[pick].fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace pyhost
