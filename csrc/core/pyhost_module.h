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
};

ModuleState* GetModuleState(PyObject* module);
void SetModuleInterp(PyObject* module, Interp* interp);

// Defined by the WSGI gateway (csrc/wsgi): creates its types and strings in a new module.
int WsgiModuleExec(PyObject* module, ModuleState* state);
int WsgiModuleTraverse(WsgiState* state, visitproc visit, void* arg);
void WsgiModuleClear(WsgiState* state);

}  // namespace pyhost

PyMODINIT_FUNC PyInit__pyhost(void);
