// wsgi.input: the request body, streamed from the host as it arrives. Reads wait with the GIL
// released.
#include "python/pyref.h"
#include "wsgi/wsgi_state.h"

namespace pyhost {
namespace {

struct InputObject {
  PyObject_HEAD
  WsgiRequest* req;
};

WsgiRequest* Req(PyObject* self) {
  WsgiRequest* r = reinterpret_cast<InputObject*>(self)->req;
  if (!r) PyErr_SetString(PyExc_ValueError, "wsgi.input used after the request finished");
  return r;
}

// Reads up to `limit` bytes (all, when negative), stopping after a newline with `line`.
// nullptr with an exception set when the client went away mid-body.
PyObject* ReadBytes(WsgiRequest* req, int64_t limit, bool line) {
  std::string buf;
  bool more = true;
  while (more && (limit < 0 || static_cast<int64_t>(buf.size()) < limit)) {
    int64_t want = limit < 0 ? -1 : limit - static_cast<int64_t>(buf.size());
    size_t before = buf.size();
    Py_BEGIN_ALLOW_THREADS more = req->ReadInput(&buf, want, line);
    Py_END_ALLOW_THREADS
    if (line && buf.size() > before && buf.back() == '\n') break;
  }
  if (!more && req->cancelled()) {
    PyErr_SetString(PyExc_OSError, "request body read error: the client closed the connection");
    return nullptr;
  }
  return PyBytes_FromStringAndSize(buf.data(), buf.size());
}

// read(n) on a host that reads into the caller's buffer: the bytes object is filled in place.
constexpr int64_t kReadIntoMax = 16 << 20;

PyObject* ReadInto(WsgiRequest* req, int64_t size) {
  PyObject* bytes = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(size));
  if (!bytes) return nullptr;
  char* buf = PyBytes_AS_STRING(bytes);
  int64_t got = 0;
  while (got < size) {
    // Bytes already received are taken with the GIL held: releasing it for a copy would hand it
    // to another thread and wait to get it back (on 3.11's one GIL, twice per 64 KiB read of an
    // upload, the hand-offs cost more than the copy).
    int64_t n = req->ReadInputInto(buf + got, static_cast<size_t>(size - got), /*may_wait=*/false);
    if (n < 0) {
      Py_BEGIN_ALLOW_THREADS n = req->ReadInputInto(buf + got, static_cast<size_t>(size - got), /*may_wait=*/true);
      Py_END_ALLOW_THREADS
    }
    if (n <= 0) break;
    got += n;
  }
  if (got < size && req->cancelled()) {
    Py_DECREF(bytes);
    PyErr_SetString(PyExc_OSError, "request body read error: the client closed the connection");
    return nullptr;
  }
  if (got < size && _PyBytes_Resize(&bytes, static_cast<Py_ssize_t>(got)) < 0) return nullptr;
  return bytes;
}

bool SizeArg(PyObject* const* args, Py_ssize_t nargs, const char* fn, int64_t* out) {
  *out = -1;
  if (nargs > 1) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument (%zd given)", fn, nargs);
    return false;
  }
  if (nargs == 1 && args[0] != Py_None) {
    long long v = PyLong_AsLongLong(args[0]);
    if (v == -1 && PyErr_Occurred()) return false;
    *out = v;
  }
  return true;
}

PyObject* Read(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  int64_t size;
  WsgiRequest* req = Req(self);
  if (!req || !SizeArg(args, nargs, "read", &size)) return nullptr;
  if (size == 0) return PyBytes_FromStringAndSize("", 0);
  if (size > 0 && size <= kReadIntoMax && req->can_read_into()) return ReadInto(req, size);
  return ReadBytes(req, size, false);
}

PyObject* ReadLine(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  int64_t size;
  WsgiRequest* req = Req(self);
  if (!req || !SizeArg(args, nargs, "readline", &size)) return nullptr;
  if (size == 0) return PyBytes_FromStringAndSize("", 0);
  return ReadBytes(req, size, true);
}

PyObject* ReadLines(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  int64_t hint;
  WsgiRequest* req = Req(self);
  if (!req || !SizeArg(args, nargs, "readlines", &hint)) return nullptr;
  PyRef lines(PyList_New(0));
  int64_t total = 0;
  while (lines) {
    PyRef line(ReadBytes(req, -1, true));
    if (!line) return nullptr;
    if (PyBytes_GET_SIZE(line.get()) == 0) break;
    total += PyBytes_GET_SIZE(line.get());
    if (PyList_Append(lines.get(), line.get()) < 0) return nullptr;
    if (hint > 0 && total >= hint) break;
  }
  return lines.release();
}

PyObject* Next(PyObject* self) {
  WsgiRequest* req = Req(self);
  if (!req) return nullptr;
  PyObject* line = ReadBytes(req, -1, true);
  if (line && PyBytes_GET_SIZE(line) == 0) {
    Py_DECREF(line);
    return nullptr;  // StopIteration
  }
  return line;
}

PyObject* Iter(PyObject* self) { return Py_NewRef(self); }

void Dealloc(PyObject* self) {
  PyTypeObject* tp = Py_TYPE(self);
  tp->tp_free(self);
  Py_DECREF(tp);
}

#define FASTCALL(fn) reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(fn))
PyMethodDef kMethods[] = {
    {"read", FASTCALL(Read), METH_FASTCALL, "read(size=-1) -> bytes"},
    {"readline", FASTCALL(ReadLine), METH_FASTCALL, "readline(size=-1) -> bytes"},
    {"readlines", FASTCALL(ReadLines), METH_FASTCALL, "readlines(hint=-1) -> list of bytes"},
    {nullptr, nullptr, 0, nullptr}};

PyType_Slot kSlots[] = {{Py_tp_methods, kMethods},
                        {Py_tp_iter, reinterpret_cast<void*>(Iter)},
                        {Py_tp_iternext, reinterpret_cast<void*>(Next)},
                        {Py_tp_dealloc, reinterpret_cast<void*>(Dealloc)},
                        {Py_tp_doc, const_cast<char*>("wsgi.input: the request body")},
                        {0, nullptr}};

PyType_Spec kSpec = {"_pyhost.Input", sizeof(InputObject), 0, Py_TPFLAGS_DEFAULT, kSlots};

}  // namespace

int InitInputStreamType(PyObject* module, WsgiState* st) {
  st->input_type = PyType_FromModuleAndSpec(module, &kSpec, nullptr);
  return st->input_type ? 0 : -1;
}

PyObject* NewInputStream(WsgiState* st, WsgiRequest* req) {
  auto* o = PyObject_New(InputObject, reinterpret_cast<PyTypeObject*>(st->input_type));
  if (!o) return nullptr;
  o->req = req;
  return reinterpret_cast<PyObject*>(o);
}

void DetachInputStream(PyObject* input) { reinterpret_cast<InputObject*>(input)->req = nullptr; }

}  // namespace pyhost
