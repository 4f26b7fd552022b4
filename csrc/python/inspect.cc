#include "python/inspect.h"

#include <pythread.h>

#include <cstdio>
#include <system_error>
#include <thread>

#include "python/pyref.h"
#include "python/sleep.h"

namespace pyhost {

bool VisitInterp(const std::shared_ptr<Interp>& interp, std::function<void()> fn) {
  if (!interp || interp->ended()) return false;
  interp->Attach();
  try {
    std::thread([interp, fn = std::move(fn)] {
      PyThreadState* ts = PyThreadState_New(interp->state());
      PyEval_RestoreThread(ts);
      fn();
      PyThreadState_Clear(ts);
      PyThreadState_DeleteCurrent();
      interp->Detach();
    }).detach();
  } catch (const std::system_error&) {
    // No thread to be had now (the process is out of address space): the caller may try again.
    interp->Detach();
    return false;
  }
  return true;
}

std::string FormatThreadStacks(PyInterpreterState* interp, unsigned long ident) {
  std::string out;
  PyThreadState* self = PyThreadState_Get();
  PyRef traceback(PyImport_ImportModule("traceback"));
  if (!traceback) PyErr_Clear();
  for (PyThreadState* t = PyInterpreterState_ThreadHead(interp); t; t = PyThreadState_Next(t)) {
    if (t == self || (ident && t->thread_id != ident)) continue;
    char head[96];
    std::snprintf(head, sizeof head, "Thread 0x%lx (most recent call last):\n", t->thread_id);
    out += head;
    PyRef frame(reinterpret_cast<PyObject*>(PyThreadState_GetFrame(t)));
    if (!frame) {
      out += "  <no Python frame: idle, or in C code>\n";
      continue;
    }
    PyRef lines(traceback ? PyObject_CallMethod(traceback.get(), "format_stack", "O", frame.get()) : nullptr);
    if (lines && PyList_Check(lines.get())) {
      for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines.get()); i++) out += PyToUtf8(PyList_GET_ITEM(lines.get(), i));
    } else {
      PyErr_Clear();
      for (PyFrameObject* f = reinterpret_cast<PyFrameObject*>(frame.get()); f;) {
        PyRef code(reinterpret_cast<PyObject*>(PyFrame_GetCode(f)));
        PyRef file(PyObject_GetAttrString(code.get(), "co_filename"));
        PyRef name(PyObject_GetAttrString(code.get(), "co_name"));
        PyErr_Clear();
        out += "  File \"" + PyToUtf8(file.get()) + "\", line " + std::to_string(PyFrame_GetLineNumber(f)) + ", in " +
               PyToUtf8(name.get()) + "\n";
        PyFrameObject* back = PyFrame_GetBack(f);
        if (f != reinterpret_cast<PyFrameObject*>(frame.get())) Py_DECREF(f);
        f = back;
      }
    }
  }
  return out;
}

bool RaiseInThread(unsigned long ident, PyObject* exc) {
  if (PyThreadState_SetAsyncExc(ident, exc) != 1) return false;
  WakeSleeper(ident);  // a thread in time.sleep raises it now
  return true;
}

}  // namespace pyhost
