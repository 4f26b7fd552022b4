// `_pyhost`: the built-in module pyhost adds to every interpreter. Multi-phase init with
// per-interpreter state, so it loads in own-GIL sub-interpreters. A layer above (the WSGI
// gateway) keeps its own per-interpreter state there through a ModuleExtension.
#pragma once
#define PY_SSIZE_T_CLEAN
#include <Python.h>

namespace pyhost {

class Interp;

struct ModuleState {
  Interp* interp = nullptr;
  PyObject* code_cache = nullptr;  // dict: compiled exec/eval sources
  void* extension = nullptr;  // the ModuleExtension's state
  // Hard interrupts (python/deadlines.h): _pyhost.Interrupted (a BaseException, so `except
  // Exception` lets it through) and its subclasses CallTimeout and Cancelled; heap types, one
  // set per interpreter.
  PyObject* interrupted = nullptr;
  PyObject* call_timeout = nullptr;
  PyObject* cancelled = nullptr;
  // _pyhost.HostError (an Exception): a host function threw (python/host_call.h).
  PyObject* host_error = nullptr;
  // Called with a thread ident when that thread is interrupted, to wake it from a wait that the
  // interpreter's own code made interruptible (set by _pyhost.set_wake_hook); may be null.
  PyObject* wake_hook = nullptr;
};

ModuleState* GetModuleState(PyObject* module);
// The exception type a hard interrupt raises in this module's interpreter (borrowed; GIL held).
PyObject* InterruptType(PyObject* module, bool cancelled);
void SetModuleInterp(PyObject* module, Interp* interp);

// What a layer above this one keeps in every interpreter's `_pyhost` module. Set once, by the
// host, before the runtime starts (SetModuleExtension); each function runs with the GIL held.
struct ModuleExtension {
  // A new module: makes the layer's state (*state). -1 with a Python error set.
  int (*exec)(PyObject* module, void** state);
  // The interpreter's bootstrap ran (sys.stdout and sys.stderr are the log streams).
  int (*bootstrapped)(PyObject* module, void* state);
  int (*traverse)(void* state, visitproc visit, void* arg);
  // Drops the state's references (may run twice); free releases the state itself.
  void (*clear)(void* state);
  void (*free)(void* state);
};
void SetModuleExtension(const ModuleExtension* extension);
// After an interpreter's bootstrap: the extension's `bootstrapped` (0, or -1 with an error set).
int ModuleBootstrapped(PyObject* module);

}  // namespace pyhost

PyMODINIT_FUNC PyInit__pyhost(void);
