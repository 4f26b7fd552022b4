// Looking into and interrupting a running interpreter from outside: a short-lived thread takes a
// thread state of that interpreter (PyThreadState_SetAsyncExc and the frames of other threads
// are only reachable from inside it) and runs `fn` holding its GIL. If the GIL never comes back
// (code stuck in C), that thread waits forever and `fn` never runs: callers bound their wait.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "python/interp.h"

namespace pyhost {

// Returns false if the interpreter is already gone (fn not run).
bool VisitInterp(const std::shared_ptr<Interp>& interp, std::function<void()> fn);

// With the interpreter's GIL held: Python stacks of its threads (all when ident is 0), most
// recent call last, like tracebacks; the calling thread is left out.
std::string FormatThreadStacks(PyInterpreterState* interp, unsigned long ident);

// With the interpreter's GIL held: raises `exc` in thread `ident` of this interpreter.
bool RaiseInThread(unsigned long ident, PyObject* exc);

}  // namespace pyhost
