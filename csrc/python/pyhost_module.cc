#include "python/pyhost_module.h"

#include "python/group.h"
#include "python/host_call.h"
#include "python/interp.h"
#include "python/log.h"
#include "python/pyref.h"
#include "python/sleep.h"

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

// _pyhost.set_wake_hook(fn | None): fn(ident) runs (in this interpreter, GIL held) when thread
// `ident` is interrupted, so a wait it is in can end at once.
PyObject* SetWakeHook(PyObject* module, PyObject* fn) {
  if (fn != Py_None && !PyCallable_Check(fn)) {
    PyErr_SetString(PyExc_TypeError, "set_wake_hook(fn): fn must be callable or None");
    return nullptr;
  }
  ModuleState* st = GetModuleState(module);
  Py_XSETREF(st->wake_hook, fn == Py_None ? nullptr : Py_NewRef(fn));
  Py_RETURN_NONE;
}

// _pyhost.raise_in_thread(ident, exc_type) -> bool: raises exc_type asynchronously in thread
// `ident` of this interpreter (the harness stops a tenant's own threads with it).
PyObject* RaiseInThreadPy(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2 || !PyLong_Check(args[0]) || !PyExceptionClass_Check(args[1])) {
    PyErr_SetString(PyExc_TypeError, "raise_in_thread(ident: int, exc_type: type)");
    return nullptr;
  }
  unsigned long ident = PyLong_AsUnsignedLong(args[0]);
  if (PyErr_Occurred()) return nullptr;
  return PyBool_FromLong(PyThreadState_SetAsyncExc(ident, args[1]) == 1);
}

// _pyhost.stop_interrupts() -> 'timeout' | 'cancelled' | None: the call this worker runs is over
// as far as its code goes: no hard interrupt reaches it any more (a pending one is dropped).
// Says whether one was raised.
PyObject* StopInterrupts(PyObject*, PyObject*) {
  Worker* w = Worker::Current();
  InterruptKind kind = w ? w->StopInterrupts() : InterruptKind::kNone;
  if (kind == InterruptKind::kTimeout) return PyUnicode_FromString("timeout");
  if (kind == InterruptKind::kCancelled) return PyUnicode_FromString("cancelled");
  Py_RETURN_NONE;
}

int AddExceptionTypes(PyObject* module, ModuleState* st) {
  st->interrupted = PyErr_NewExceptionWithDoc(
      "pyhost.Interrupted", "The host stopped this call (a BaseException: `except Exception` does not catch it).",
      PyExc_BaseException, nullptr);
  if (!st->interrupted) return -1;
  st->call_timeout = PyErr_NewExceptionWithDoc("pyhost.CallTimeout", "The call ran past its timeout.", st->interrupted, nullptr);
  if (!st->call_timeout) return -1;
  st->cancelled = PyErr_NewExceptionWithDoc("pyhost.Cancelled", "The caller cancelled the call.", st->interrupted, nullptr);
  if (!st->cancelled) return -1;
  if (PyModule_AddObjectRef(module, "Interrupted", st->interrupted) < 0) return -1;
  if (PyModule_AddObjectRef(module, "CallTimeout", st->call_timeout) < 0) return -1;
  if (PyModule_AddObjectRef(module, "Cancelled", st->cancelled) < 0) return -1;
  st->host_error = PyErr_NewExceptionWithDoc("pyhost.HostError", "A host function threw; the message is the host's.",
                                             PyExc_Exception, nullptr);
  if (!st->host_error) return -1;
  return PyModule_AddObjectRef(module, "HostError", st->host_error);
}

const ModuleExtension* extension = nullptr;

int ModuleExec(PyObject* module) {
  ModuleState* st = GetModuleState(module);
  st->code_cache = PyDict_New();
  if (!st->code_cache) return -1;
  if (AddExceptionTypes(module, st) < 0) return -1;
  return extension ? extension->exec(module, &st->extension) : 0;
}

int ModuleTraverse(PyObject* module, visitproc visit, void* arg) {
  ModuleState* st = GetModuleState(module);
  if (!st) return 0;
  Py_VISIT(st->code_cache);
  Py_VISIT(st->interrupted);
  Py_VISIT(st->call_timeout);
  Py_VISIT(st->cancelled);
  Py_VISIT(st->host_error);
  Py_VISIT(st->wake_hook);
  return st->extension ? extension->traverse(st->extension, visit, arg) : 0;
}

int ModuleClear(PyObject* module) {
  ModuleState* st = GetModuleState(module);
  if (!st) return 0;
  Py_CLEAR(st->code_cache);
  Py_CLEAR(st->interrupted);
  Py_CLEAR(st->call_timeout);
  Py_CLEAR(st->cancelled);
  Py_CLEAR(st->host_error);
  Py_CLEAR(st->wake_hook);
  if (st->extension) extension->clear(st->extension);
  return 0;
}

void ModuleFree(void* module) {
  ModuleClear(static_cast<PyObject*>(module));
  ModuleState* st = GetModuleState(static_cast<PyObject*>(module));
  if (st && st->extension) {
    extension->free(st->extension);
    st->extension = nullptr;
  }
}

PyMethodDef kCoreMethods[] = {
    {"log", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(LogLine)), METH_FASTCALL,
     "log(level, text): send a line to the host's logger"},
    {"is_single_phase", IsSinglePhase, METH_O, "is_single_phase(module): made by single-phase init?"},
    {"sleep", InterruptibleSleep, METH_O, "sleep(seconds): time.sleep, ended by an interrupt from the host"},
    {"stop_interrupts", StopInterrupts, METH_NOARGS, "stop_interrupts(): the running call takes no more interrupts"},
    {"set_wake_hook", SetWakeHook, METH_O, "set_wake_hook(fn): fn(ident) wakes an interrupted thread's wait"},
    {"host_call", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(HostCallPy)), METH_FASTCALL,
     "host_call(name, args): call a function the host gave this group"},
    {"host_names", HostNamesPy, METH_NOARGS, "host_names(): the host functions this group was given, or None"},
    {"raise_in_thread", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(RaiseInThreadPy)), METH_FASTCALL,
     "raise_in_thread(ident, exc_type): raise exc_type in a thread of this interpreter"},
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

PyObject* InterruptType(PyObject* module, bool cancelled) {
  ModuleState* st = GetModuleState(module);
  return cancelled ? st->cancelled : st->call_timeout;
}

void SetModuleInterp(PyObject* module, Interp* interp) { GetModuleState(module)->interp = interp; }

void SetModuleExtension(const ModuleExtension* ext) { extension = ext; }

int ModuleBootstrapped(PyObject* module) {
  ModuleState* st = GetModuleState(module);
  return extension && st->extension ? extension->bootstrapped(module, st->extension) : 0;
}

}  // namespace pyhost

PyMODINIT_FUNC PyInit__pyhost(void) {
  PyObject* m = PyModuleDef_Init(&pyhost::kModuleDef);
  return m;
}
