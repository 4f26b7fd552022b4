#include "wsgi/inline_run.h"

#include "python/group.h"
#include "python/log.h"

namespace pyhost {

bool Refusal::Take(const RequestOutput& out) {
  if (out.refused_module.empty()) return false;
  module = out.refused_module;
  message = out.refused_message;
  return true;
}

void RunHereWithFallback(Group& group, WsgiRequest* req, Refusal* refusal, bool fallback_global) {
  group.RunHere(req);
  if (refusal->module.empty()) return;
  // TypeScript decided (fallback_global, from ts/scheduler/fallback.ts) and words it: the event
  // "@refused MODULE moved" or "@refused MODULE kept IMPORTERROR" is read by ts/daemon/process.ts
  // (a daemon process's log) or ts/engine.ts (the native front in Node's process).
  if (fallback_global) {
    Log(LogLevel::kWarn, group.name(), "@refused " + refusal->module + " moved", group.owner());
    group.Rehome();
    refusal->module.clear();
    group.RunHere(req);
    return;
  }
  Log(LogLevel::kWarn, group.name(), "@refused " + refusal->module + " kept " + refusal->message, group.owner());
  req->Abort(ErrorInfo::Make("ERR_EXTENSION_REFUSED", ""));  // logged by TypeScript, with advice
}

}  // namespace pyhost
