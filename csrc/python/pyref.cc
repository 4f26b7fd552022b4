#include "python/pyref.h"

namespace pyhost {

std::string PyStrAsUtf8(PyObject* str) {
  Py_ssize_t len = 0;
  const char* s = PyUnicode_AsUTF8AndSize(str, &len);
  if (!s) {
    PyErr_Clear();
    // Lone surrogates (e.g. from surrogateescape) cannot be UTF-8: replace them.
    PyRef b(PyUnicode_AsEncodedString(str, "utf-8", "backslashreplace"));
    if (!b) {
      PyErr_Clear();
      return "<unprintable>";
    }
    return std::string(PyBytes_AS_STRING(b.get()), PyBytes_GET_SIZE(b.get()));
  }
  return std::string(s, len);
}

PyObject* ImportModule(const char* name) {
  PyRef fromlist(Py_BuildValue("(s)", "__name__"));
  if (!fromlist) return nullptr;
  return PyImport_ImportModuleLevel(name, nullptr, nullptr, fromlist.get(), 0);
}

std::string PyToUtf8(PyObject* obj) {
  if (!obj) return "<NULL>";
  if (PyUnicode_Check(obj)) return PyStrAsUtf8(obj);
  PyRef s(PyObject_Str(obj));
  if (!s) {
    PyErr_Clear();
    return "<unprintable " + std::string(Py_TYPE(obj)->tp_name) + " object>";
  }
  return PyStrAsUtf8(s.get());
}

}  // namespace pyhost
