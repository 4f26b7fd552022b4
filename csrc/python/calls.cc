#include "python/calls.h"

#include "python/group.h"
#include "python/pyhost_module.h"
#include "python/pyref.h"

namespace pyhost {
namespace {

constexpr Py_ssize_t kCodeCacheLimit = 512;

// Compiles (or fetches from this interpreter's cache) a source for exec or eval.
PyObject* Compile(Worker& w, const std::string& source, bool eval) {
  ModuleState* st = GetModuleState(w.interp().module());
  std::string keyed = (eval ? "e" : "x") + source;
  PyRef key(PyUnicode_DecodeUTF8(keyed.data(), keyed.size(), "surrogateescape"));
  if (!key) return nullptr;
  PyObject* cached = PyDict_GetItemWithError(st->code_cache, key.get());
  if (cached) return Py_NewRef(cached);
  if (PyErr_Occurred()) return nullptr;
  PyObject* code = Py_CompileString(source.c_str(), eval ? "<eval>" : "<exec>", eval ? Py_eval_input : Py_file_input);
  if (!code) return nullptr;
  if (PyDict_GET_SIZE(st->code_cache) >= kCodeCacheLimit) PyDict_Clear(st->code_cache);
  if (PyDict_SetItem(st->code_cache, key.get(), code) < 0) PyErr_Clear();
  return code;
}

PyObject* MainDict() {
  PyObject* main = PyImport_AddModule("__main__");  // borrowed
  return main ? PyModule_GetDict(main) : nullptr;
}

PyObject* ResolveCallable(const std::string& module, const std::string& func) {
  PyRef obj(ImportModule(module.c_str()));
  size_t start = 0;
  while (obj && start <= func.size()) {
    size_t dot = func.find('.', start);
    std::string part = func.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    obj.reset(PyObject_GetAttrString(obj.get(), part.c_str()));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return obj.release();
}

PyObject* Invoke(const CallRequest& req) {
  PyRef fn(ResolveCallable(req.module, req.func));
  if (!fn) return nullptr;
  PyRef args(PyTuple_New(req.args.size()));
  if (!args) return nullptr;
  for (size_t i = 0; i < req.args.size(); i++) {
    PyObject* a = ValueToPython(req.args[i]);
    if (!a) return nullptr;
    PyTuple_SET_ITEM(args.get(), i, a);
  }
  PyRef kwargs;
  if (!req.kwargs.empty()) {
    Value dict;
    dict.kind = Value::kDict;
    dict.fields = req.kwargs;
    kwargs.reset(ValueToPython(dict));
    if (!kwargs) return nullptr;
  }
  return PyObject_Call(fn.get(), args.get(), kwargs.get());
}

}  // namespace

CallOutcome RunCall(Worker& w, const CallRequest& req) {
  CallOutcome out;
  PyRef result;
  if (req.kind == CallRequest::kCall) {
    result.reset(Invoke(req));
  } else {
    PyRef code(Compile(w, req.source, req.kind == CallRequest::kEval));
    PyObject* ns = code ? MainDict() : nullptr;
    if (ns) result.reset(PyEval_EvalCode(code.get(), ns, ns));
  }
  if (!result) {
    out.error = FetchPythonError();
    return out;
  }
  if (req.kind == CallRequest::kExec) return out;  // exec resolves with undefined
  std::string why;
  if (!ValueFromPython(result.get(), &out.value, &why)) {
    out.error = ErrorInfo::Make("ERR_CONVERSION", why);
    out.error.type = "TypeError";
  }
  return out;
}

}  // namespace pyhost
