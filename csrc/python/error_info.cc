#include "python/error_info.h"

#include <cstring>

#include "python/pyref.h"

namespace pyhost {
namespace {

std::string QualifiedTypeName(PyObject* type) {
  PyRef qual(PyObject_GetAttrString(type, "__qualname__"));
  PyRef mod(PyObject_GetAttrString(type, "__module__"));
  PyErr_Clear();
  std::string name = qual ? PyToUtf8(qual.get()) : reinterpret_cast<PyTypeObject*>(type)->tp_name;
  if (mod && PyUnicode_Check(mod.get())) {
    std::string m = PyStrAsUtf8(mod.get());
    if (m != "builtins" && m != "__main__") name = m + "." + name;
  }
  return name;
}

std::string FormatTraceback(PyObject* exc) {
  PyRef tb_mod(PyImport_ImportModule("traceback"));
  if (!tb_mod) {
    PyErr_Clear();
    return "";
  }
  PyRef lines(PyObject_CallMethod(tb_mod.get(), "format_exception", "OOO", Py_TYPE(exc), exc,
                                  PyException_GetTraceback(exc) ? PyException_GetTraceback(exc) : Py_None));
  if (!lines) {
    PyErr_Clear();
    return "";
  }
  PyRef empty(PyUnicode_FromString(""));
  PyRef joined(PyUnicode_Join(empty.get(), lines.get()));
  if (!joined) {
    PyErr_Clear();
    return "";
  }
  return PyStrAsUtf8(joined.get());
}

// Walks exc, its __cause__ and __context__ for an ImportError about sub-interpreters.
std::string FindRefusedModule(PyObject* exc) {
  for (int depth = 0; exc && exc != Py_None && depth < 16; depth++) {
    if (PyErr_GivenExceptionMatches(exc, PyExc_ImportError)) {
      std::string msg = PyToUtf8(exc);
      // CPython's refusal (3.12+), and numpy's own when another interpreter loaded it first.
      if (msg.find(kSubinterpreterRefusal) != std::string::npos ||
          msg.find("Interpreter change detected") != std::string::npos) {
        PyRef name(PyObject_GetAttrString(exc, "name"));
        PyErr_Clear();
        if (name && PyUnicode_Check(name.get())) return PyStrAsUtf8(name.get());
        // "module X does not support loading in subinterpreters"
        size_t start = msg.rfind("module ", msg.find(kSubinterpreterRefusal));
        if (start != std::string::npos) {
          start += 7;
          size_t end = msg.find(' ', start);
          return msg.substr(start, end - start);
        }
        return "?";
      }
    }
    PyObject* next = PyException_GetCause(exc);
    if (!next) next = PyException_GetContext(exc);
    Py_XDECREF(next);  // borrowed use is fine: the chain is kept alive by exc
    exc = next;
  }
  return "";
}

}  // namespace

ErrorInfo FetchPythonError() {
  ErrorInfo info;
  info.code = "ERR_PYTHON_EXCEPTION";
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  PyErr_Fetch(&type, &value, &tb);
  if (!type) {
    info.type = "SystemError";
    info.message = "error return without exception set";
    return info;
  }
  PyErr_NormalizeException(&type, &value, &tb);
  if (tb && value) PyException_SetTraceback(value, tb);
  PyRef t(type), v(value), b(tb);
  info.type = QualifiedTypeName(type);
  info.message = v ? PyToUtf8(v.get()) : "";
  if (v) {
    info.traceback = FormatTraceback(v.get());
    info.refused_module = FindRefusedModule(v.get());
  }
  PyErr_Clear();
  return info;
}

}  // namespace pyhost
