#include "python/value.h"

#include "python/pyref.h"

namespace pyhost {
namespace {

constexpr int kMaxDepth = 64;

std::string TypeName(PyObject* obj) {
  PyTypeObject* t = Py_TYPE(obj);
  PyRef mod(PyObject_GetAttrString(reinterpret_cast<PyObject*>(t), "__module__"));
  if (!mod) PyErr_Clear();
  std::string name = t->tp_name;
  if (mod && PyUnicode_Check(mod.get())) {
    std::string m = PyStrAsUtf8(mod.get());
    if (m != "builtins" && name.find('.') == std::string::npos) name = m + "." + name;
  }
  return name;
}

bool Convert(PyObject* obj, Value* out, const std::string& path, int depth, std::string* error) {
  if (depth > kMaxDepth) {
    *error = path + ": nested deeper than " + std::to_string(kMaxDepth) + " levels (a cycle?)";
    return false;
  }
  if (obj == Py_None) {
    out->kind = Value::kNone;
    return true;
  }
  if (PyBool_Check(obj)) {
    *out = Value::Bool(obj == Py_True);
    return true;
  }
  if (PyLong_Check(obj)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow == 0 && !(v == -1 && PyErr_Occurred())) {
      *out = Value::Int(v);
      return true;
    }
    PyErr_Clear();
    PyRef s(PyObject_Str(obj));
    if (!s) {
      PyErr_Clear();
      *error = path + ": int could not be converted";
      return false;
    }
    out->kind = Value::kBigInt;
    out->s = PyStrAsUtf8(s.get());
    return true;
  }
  if (PyFloat_Check(obj)) {
    *out = Value::Float(PyFloat_AS_DOUBLE(obj));
    return true;
  }
  if (PyUnicode_Check(obj)) {
    *out = Value::Str(PyStrAsUtf8(obj));
    return true;
  }
  if (PyBytes_Check(obj)) {
    *out = Value::Bytes(std::string(PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj)));
    return true;
  }
  if (PyByteArray_Check(obj)) {
    *out = Value::Bytes(std::string(PyByteArray_AS_STRING(obj), PyByteArray_GET_SIZE(obj)));
    return true;
  }
  if (PyList_Check(obj) || PyTuple_Check(obj)) {
    PyRef seq(PySequence_Fast(obj, "sequence expected"));
    if (!seq) {
      PyErr_Clear();
      *error = path + ": sequence could not be read";
      return false;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.get());
    out->kind = Value::kList;
    out->items.resize(n);
    for (Py_ssize_t k = 0; k < n; k++) {
      if (!Convert(PySequence_Fast_GET_ITEM(seq.get(), k), &out->items[k], path + "[" + std::to_string(k) + "]",
                   depth + 1, error))
        return false;
    }
    return true;
  }
  if (PyDict_Check(obj)) {
    out->kind = Value::kDict;
    PyObject *key, *val;
    Py_ssize_t pos = 0;
    while (PyDict_Next(obj, &pos, &key, &val)) {
      if (!PyUnicode_Check(key)) {
        *error = path + ": dict key " + PyToUtf8(key) + " is a " + TypeName(key) +
                 "; only str keys convert to JavaScript";
        return false;
      }
      std::string k = PyStrAsUtf8(key);
      out->fields.emplace_back(k, Value());
      if (!Convert(val, &out->fields.back().second, path + "[" + PyToUtf8(PyRef(PyObject_Repr(key)).get()) + "]",
                   depth + 1, error))
        return false;
    }
    return true;
  }
  *error = path + ": cannot convert " + TypeName(obj) +
           " to JavaScript (only None, bool, int, float, str, bytes, list, tuple and dict with str keys convert)";
  return false;
}

}  // namespace

bool ValueFromPython(PyObject* obj, Value* out, std::string* error) {
  bool ok = Convert(obj, out, "result", 0, error);
  if (PyErr_Occurred()) PyErr_Clear();
  return ok;
}

PyObject* ValueToPython(const Value& v) {
  switch (v.kind) {
    case Value::kNone:
      Py_RETURN_NONE;
    case Value::kBool:
      return PyBool_FromLong(v.b);
    case Value::kInt:
      return PyLong_FromLongLong(v.i);
    case Value::kBigInt:
      return PyLong_FromString(v.s.c_str(), nullptr, 10);
    case Value::kFloat:
      return PyFloat_FromDouble(v.f);
    case Value::kStr:
      return PyUnicode_DecodeUTF8(v.s.data(), v.s.size(), "surrogatepass");
    case Value::kBytes:
      return PyBytes_FromStringAndSize(v.s.data(), v.s.size());
    case Value::kList: {
      PyRef list(PyList_New(v.items.size()));
      if (!list) return nullptr;
      for (size_t k = 0; k < v.items.size(); k++) {
        PyObject* item = ValueToPython(v.items[k]);
        if (!item) return nullptr;
        PyList_SET_ITEM(list.get(), k, item);
      }
      return list.release();
    }
    case Value::kDict: {
      PyRef dict(PyDict_New());
      if (!dict) return nullptr;
      for (const auto& [k, val] : v.fields) {
        PyRef key(PyUnicode_DecodeUTF8(k.data(), k.size(), "surrogatepass"));
        PyRef item(ValueToPython(val));
        if (!key || !item) return nullptr;
        if (PyDict_SetItem(dict.get(), key.get(), item.get()) < 0) return nullptr;
      }
      return dict.release();
    }
  }
  Py_RETURN_NONE;
}

}  // namespace pyhost
