// time.sleep that a host interrupt ends: every interpreter's time.sleep is _pyhost.sleep
// (python/bootstrap.py). A thread sleeps on a condition variable of its own, with its GIL
// released; raising an exception in it (RaiseInThread: a call's timeout or cancellation, a
// group's shutdown) also wakes it, so the exception is raised at once instead of after the sleep.
#pragma once
#define PY_SSIZE_T_CLEAN
#include <Python.h>

namespace pyhost {

// _pyhost.sleep(seconds): as time.sleep (int or float, non-negative, not NaN).
PyObject* InterruptibleSleep(PyObject* module, PyObject* seconds);

// Ends the sleep of thread `ident`, if it sleeps (any thread).
void WakeSleeper(unsigned long ident);

}  // namespace pyhost
