// Waits that a host interrupt ends. time.sleep: every interpreter's time.sleep is _pyhost.sleep
// (python/bootstrap.py). A thread sleeps on a condition variable of its own, with its GIL
// released; raising an exception in it (RaiseInThread: a call's timeout or cancellation, a
// group's shutdown) also wakes it, so the exception is raised at once instead of after the sleep.
#pragma once
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <chrono>
#include <functional>

namespace pyhost {

// _pyhost.sleep(seconds): as time.sleep (int or float, non-negative, not NaN).
PyObject* InterruptibleSleep(PyObject* module, PyObject* seconds);

// Ends the sleep of thread `ident`, if it sleeps (any thread).
void WakeSleeper(unsigned long ident);

// Waits as _pyhost.sleep does (the caller has released the GIL): until `ready()` is true, until
// `until`, or until the thread is interrupted. `ready` is read under the lock SettleWaiter takes.
// Returns ready().
bool WaitInterruptibly(std::chrono::steady_clock::time_point until, const std::function<bool()>& ready);
// Runs `settle` under that lock, then wakes thread `ident` if it waits (any thread).
void SettleWaiter(unsigned long ident, const std::function<void()>& settle);

}  // namespace pyhost
