// Running a WSGI request on the calling thread, for hosts whose serving threads run the
// application themselves (the daemon, the native HTTP front), with the %{GLOBAL} fallback: when
// an extension module refuses the group's sub-interpreter, the group moves to the main
// interpreter and the request runs again there, or (fallback off) it gets a 500; either way the
// refusal is logged as an event that TypeScript words (ts/scheduler/fallback.ts).
#pragma once
#include <string>

#include "wsgi/request.h"

namespace pyhost {

class Group;

// A refusal the request's output carried (RequestOutput::refused_*), kept by the host's Notify.
struct Refusal {
  std::string module, message;
  // True (and kept) if `out` carries one.
  bool Take(const RequestOutput& out);
};

// `refusal` is where the request's host keeps what its Notify took.
void RunHereWithFallback(Group& group, WsgiRequest* req, Refusal* refusal, bool fallback_global);

}  // namespace pyhost
