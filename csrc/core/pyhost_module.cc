#include "core/pyhost_module.h"

#include "core/group.h"
#include "core/interp.h"
#include "core/log.h"
#include "core/pyref.h"

namespace pyhost {
namespace {

// _pyhost.log(level, text): a line from sys.stdout/sys.stderr, tagged with the group whose job
// the thread runs (or the interpreter's group for threads the application started).
PyObject* LogLine(PyObject* module, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2 || !PyLong_Check(args[0]) || !PyUnicode_Check(args[1])) {
    PyErr_SetString(PyExc_TypeError, "log(level: int, text: str)");
    return nullptr;
  }
  long level = PyLong_AsLong(args[0]);
  std::string text = PyStrAsUtf8(args[1]);
  Worker* w = Worker::Current();
  ModuleState* st = GetModuleState(module);
  const std::string& tag = w ? w->group().name() : (st->interp ? st->interp->name() : std::string("%{GLOBAL}"));
  void* owner = w ? w->group().owner() : nullptr;
  Log(level >= 2 ? LogLevel::kError : LogLevel::kInfo, tag, text, owner);
  Py_RETURN_NONE;
}

// _pyhost.is_single_phase(module): True for an extension module made by single-phase init.
PyObject* IsSinglePhase(PyObject*, PyObject* mod) {
  if (!PyModule_Check(mod)) Py_RETURN_FALSE;
  PyModuleDef* def = PyModule_GetDef(mod);
  if (!def) {
    // An extension module without a definition is a copy CPython keeps of a single-phase
    // module loaded earlier in the process.
    PyErr_Clear();
    Py_RETURN_TRUE;
  }
  return PyBool_FromLong(def->m_slots == nullptr);
}

int ModuleExec(PyObject* module) {
  ModuleState* st = GetModuleState(module);
  st->code_cache = PyDict_New();
  if (!st->code_cache) return -1;
  return WsgiModuleExec(module, st);
}

int ModuleTraverse(PyObject* module, visitproc visit, void* arg) {
  ModuleState* st = GetModuleState(module);
  if (!st) return 0;
  Py_VISIT(st->code_cache);
  return st->wsgi ? WsgiModuleTraverse(st->wsgi, visit, arg) : 0;
}

int ModuleClear(PyObject* module) {
  ModuleState* st = GetModuleState(module);
  if (!st) return 0;
  Py_CLEAR(st->code_cache);
  if (st->wsgi) WsgiModuleClear(st->wsgi);
  return 0;
}

void ModuleFree(void* module) { ModuleClear(static_cast<PyObject*>(module)); }

PyMethodDef kCoreMethods[] = {
    {"log", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(LogLine)), METH_FASTCALL,
     "log(level, text): send a line to the host's logger"},
    {"is_single_phase", IsSinglePhase, METH_O, "is_single_phase(module): made by single-phase init?"},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef_Slot kSlots[] = {
    {Py_mod_exec, reinterpret_cast<void*>(ModuleExec)},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, nullptr}};

PyModuleDef kModuleDef = {
    PyModuleDef_HEAD_INIT, "_pyhost", "pyhost's bridge to its host", sizeof(ModuleState), kCoreMethods, kSlots,
    ModuleTraverse, ModuleClear, ModuleFree};

}  // namespace

ModuleState* GetModuleState(PyObject* module) { return static_cast<ModuleState*>(PyModule_GetState(module)); }

void SetModuleInterp(PyObject* module, Interp* interp) { GetModuleState(module)->interp = interp; }

}  // namespace pyhost

PyMODINIT_FUNC PyInit__pyhost(void) {
  PyObject* m = PyModuleDef_Init(&pyhost::kModuleDef);
  return m;
}
