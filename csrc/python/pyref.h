// Small RAII helpers around the CPython C-API. Every helper here must be used with the GIL
// of the interpreter that owns the object held.
#pragma once
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string>
#include <utility>

namespace pyhost {

// An owned (strong) reference; releases it on destruction.
class PyRef {
 public:
  PyRef() = default;
  explicit PyRef(PyObject* owned) : p_(owned) {}
  static PyRef Borrow(PyObject* borrowed) {
    Py_XINCREF(borrowed);
    return PyRef(borrowed);
  }
  PyRef(const PyRef&) = delete;
  PyRef& operator=(const PyRef&) = delete;
  PyRef(PyRef&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  PyRef& operator=(PyRef&& o) noexcept {
    if (this != &o) {
      Py_XDECREF(p_);
      p_ = o.p_;
      o.p_ = nullptr;
    }
    return *this;
  }
  ~PyRef() { Py_XDECREF(p_); }

  PyObject* get() const { return p_; }
  PyObject* release() { return std::exchange(p_, nullptr); }
  explicit operator bool() const { return p_ != nullptr; }
  void reset(PyObject* owned = nullptr) {
    Py_XDECREF(p_);
    p_ = owned;
  }

 private:
  PyObject* p_ = nullptr;
};

// Releases the GIL for the scope (Py_BEGIN/END_ALLOW_THREADS as an object).
class GilRelease {
 public:
  GilRelease() : ts_(PyEval_SaveThread()) {}
  ~GilRelease() { PyEval_RestoreThread(ts_); }
  GilRelease(const GilRelease&) = delete;
  GilRelease& operator=(const GilRelease&) = delete;

 private:
  PyThreadState* ts_;
};

// str(obj) as UTF-8; never raises (falls back to a placeholder and clears the error).
std::string PyToUtf8(PyObject* obj);

// Utf8 of a str object without conversion through str(); empty on error (error cleared).
std::string PyStrAsUtf8(PyObject* str);

// The calling thread's current thread state, or nullptr (no GIL held by it).
inline PyThreadState* CurrentThreadState() {
#if PY_VERSION_HEX >= 0x030D0000
  return PyThreadState_GetUnchecked();
#else
  return _PyThreadState_UncheckedGet();
#endif
}

// Imports a module and returns it (new reference) as the import returned it. Unlike
// PyImport_ImportModule, it does not look the module up in sys.modules afterwards, which races
// with another thread importing it (importlib pops and re-inserts it): a spurious KeyError.
PyObject* ImportModule(const char* name);

}  // namespace pyhost
