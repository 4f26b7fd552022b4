// `_pyhost`: the built-in module pyhost adds to every interpreter. Multi-phase init with
// per-interpreter state, so it loads in own-GIL sub-interpreters; the WSGI gateway keeps its
// types and interned strings in that state.
#pragma once
#define PY_SSIZE_T_CLEAN
#include <Python.h>

namespace pyhost {

class Interp;
struct WsgiState;

struct ModuleState {
  Interp* interp = nullptr;
  PyObject* code_cache = nullptr;  // dict: compiled exec/eval sources
  WsgiState* wsgi = nullptr;
  // Hard interrupts (core/deadlines.h): _pyhost.Interrupted (a BaseException, so `except
  // Exception` lets it through) and its subclasses CallTimeout and Cancelled; heap types, one
  // set per interpreter.
  PyObject* interrupted = nullptr;
  PyObject* call_timeout = nullptr;
  PyObject* cancelled = nullptr;
  // Called with a thread ident when that thread is interrupted, to wake it from a wait that the
  // interpreter's own code made interruptible (set by _pyhost.set_wake_hook); may be null.
  PyObject* wake_hook = nullptr;
};

ModuleState* GetModuleState(PyObject* module);
// The exception type a hard interrupt raises in this module's interpreter (borrowed; GIL held).
PyObject* InterruptType(PyObject* module, bool cancelled);
void SetModuleInterp(PyObject* module, Interp* interp);

// Defined by the WSGI gateway (csrc/wsgi): creates its types and strings in a new module.
int WsgiModuleExec(PyObject* module, ModuleState* state);
int WsgiModuleTraverse(WsgiState* state, visitproc visit, void* arg);
void WsgiModuleClear(WsgiState* state);

}  // namespace pyhost

PyMODINIT_FUNC PyInit__pyhost(void);
