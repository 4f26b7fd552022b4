// start_response (PEP 3333): validates the status and headers the application gives, honours
// exc_info, and returns the write() callable.
#include <cstring>

#include "python/pyref.h"
#include "wsgi/wsgi_state.h"

namespace pyhost {
namespace {

struct StartResponseObject {
  PyObject_HEAD
  ResponseState* rs;
};

bool IsTokenChar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// Latin-1 bytes of a str; false (ValueError set) if it has characters beyond U+00FF.
bool Latin1Bytes(PyObject* s, const char* what, std::string* out) {
  PyRef b(PyUnicode_AsLatin1String(s));
  if (!b) {
    PyErr_Clear();
    PyErr_Format(PyExc_ValueError, "%s %R cannot be encoded as latin-1 (PEP 3333 requires it)", what, s);
    return false;
  }
  out->assign(PyBytes_AS_STRING(b.get()), PyBytes_GET_SIZE(b.get()));
  return true;
}

bool ParseStatus(PyObject* status, int* code, std::string* reason) {
  if (!PyUnicode_Check(status)) {
    PyErr_Format(PyExc_TypeError, "expected str object for status, value of type %.200s found",
                 Py_TYPE(status)->tp_name);
    return false;
  }
  std::string s;
  if (!Latin1Bytes(status, "status", &s)) return false;
  bool ok = s.size() >= 4 && s[3] == ' ';
  for (int i = 0; ok && i < 3; i++) ok = s[i] >= '0' && s[i] <= '9';
  if (ok) *code = std::atoi(s.substr(0, 3).c_str());
  ok = ok && *code >= 100;
  for (size_t i = 4; ok && i < s.size(); i++) {
    unsigned char c = s[i];
    ok = c >= 0x20 ? c != 0x7f : c == '\t';
  }
  if (!ok) {
    PyErr_Format(PyExc_ValueError, "invalid status %R: expected a three-digit code from 100, a space and a reason phrase",
                 status);
    return false;
  }
  *reason = s.substr(4);
  return true;
}

bool ParseHeaders(PyObject* headers, HeaderList* out) {
  if (!PyList_Check(headers)) {
    PyErr_Format(PyExc_TypeError, "expected list object for headers, value of type %.200s found",
                 Py_TYPE(headers)->tp_name);
    return false;
  }
  Py_ssize_t n = PyList_GET_SIZE(headers);
  out->clear();
  out->reserve(n);
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject* item = PyList_GET_ITEM(headers, i);
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
      PyErr_Format(PyExc_TypeError, "expected a (name, value) tuple for header, value of type %.200s found",
                   Py_TYPE(item)->tp_name);
      return false;
    }
    PyObject* name = PyTuple_GET_ITEM(item, 0);
    PyObject* value = PyTuple_GET_ITEM(item, 1);
    if (!PyUnicode_Check(name) || !PyUnicode_Check(value)) {
      PyErr_Format(PyExc_TypeError, "expected str objects for header name and value, got %.200s and %.200s",
                   Py_TYPE(name)->tp_name, Py_TYPE(value)->tp_name);
      return false;
    }
    std::string n8, v8;
    if (!Latin1Bytes(name, "header name", &n8) || !Latin1Bytes(value, "header value", &v8)) return false;
    bool ok = !n8.empty();
    for (unsigned char c : n8) ok = ok && IsTokenChar(c);
    if (!ok) {
      PyErr_Format(PyExc_ValueError, "invalid response header name %R", name);
      return false;
    }
    for (unsigned char c : v8) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        PyErr_Format(PyExc_ValueError, "control character (e.g. newline) in response header %R value %R", name,
                     value);
        return false;
      }
    }
    out->emplace_back(std::move(n8), std::move(v8));
  }
  return true;
}

PyObject* Call(PyObject* self, PyObject* args, PyObject* kwargs) {
  auto* o = reinterpret_cast<StartResponseObject*>(self);
  static const char* kwlist[] = {"status", "headers", "exc_info", nullptr};
  PyObject *status, *headers, *exc_info = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|O:start_response", const_cast<char**>(kwlist), &status,
                                   &headers, &exc_info))
    return nullptr;
  ResponseState* rs = o->rs;
  if (!rs) {
    PyErr_SetString(PyExc_RuntimeError, "start_response() called after the request finished");
    return nullptr;
  }
  if (exc_info != Py_None) {
    if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
      PyErr_SetString(PyExc_TypeError, "exc_info must be a (type, value, traceback) tuple");
      return nullptr;
    }
    if (rs->req->head_sent()) {
      // Too late to change the response: re-raise the application's exception (PEP 3333).
      PyObject* t = PyTuple_GET_ITEM(exc_info, 0);
      PyObject* v = PyTuple_GET_ITEM(exc_info, 1);
      PyObject* tb = PyTuple_GET_ITEM(exc_info, 2);
      PyErr_Restore(Py_NewRef(t), Py_NewRef(v), tb == Py_None ? nullptr : Py_NewRef(tb));
      return nullptr;
    }
  } else if (rs->started) {
    PyErr_SetString(PyExc_RuntimeError, "start_response() called a second time without exc_info");
    return nullptr;
  }
  int code;
  std::string reason;
  HeaderList parsed;
  if (!ParseStatus(status, &code, &reason) || !ParseHeaders(headers, &parsed)) return nullptr;
  rs->started = true;
  rs->status = code;
  rs->reason = std::move(reason);
  rs->headers = std::move(parsed);
  return PyObject_GetAttrString(self, "write");
}

PyObject* Write(PyObject* self, PyObject* data) {
  auto* o = reinterpret_cast<StartResponseObject*>(self);
  ResponseState* rs = o->rs;
  if (!rs) {
    PyErr_SetString(PyExc_RuntimeError, "write() called after the request finished");
    return nullptr;
  }
  Py_buffer view;
  if (PyUnicode_Check(data) || PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
    if (!PyErr_Occurred() || PyUnicode_Check(data)) {
      PyErr_Clear();
      PyErr_Format(PyExc_TypeError, "write() argument must be a bytestring, not %.200s", Py_TYPE(data)->tp_name);
    }
    return nullptr;
  }
  bool sent = SendPendingHead(rs) && WriteChunk(rs, static_cast<const char*>(view.buf), view.len);
  PyBuffer_Release(&view);
  if (PyErr_Occurred()) return nullptr;
  if (!sent) {
    PyErr_SetString(PyExc_OSError, "client connection closed: the response cannot be written");
    return nullptr;
  }
  Py_RETURN_NONE;
}

void Dealloc(PyObject* self) {
  PyTypeObject* tp = Py_TYPE(self);
  tp->tp_free(self);
  Py_DECREF(tp);
}

PyMethodDef kMethods[] = {{"write", Write, METH_O, "write(data): write body bytes at once"},
                          {nullptr, nullptr, 0, nullptr}};

PyType_Slot kSlots[] = {{Py_tp_call, reinterpret_cast<void*>(Call)},
                        {Py_tp_methods, kMethods},
                        {Py_tp_dealloc, reinterpret_cast<void*>(Dealloc)},
                        {Py_tp_doc, const_cast<char*>("start_response(status, headers, exc_info=None) -> write")},
                        {0, nullptr}};

PyType_Spec kSpec = {"_pyhost.StartResponse", sizeof(StartResponseObject), 0, Py_TPFLAGS_DEFAULT, kSlots};

}  // namespace

int InitStartResponseType(PyObject* module, WsgiState* st) {
  st->start_response_type = PyType_FromModuleAndSpec(module, &kSpec, nullptr);
  return st->start_response_type ? 0 : -1;
}

PyObject* NewStartResponse(WsgiState* st, ResponseState* rs) {
  auto* tp = reinterpret_cast<PyTypeObject*>(st->start_response_type);
  auto* o = PyObject_New(StartResponseObject, tp);
  if (!o) return nullptr;
  o->rs = rs;
  return reinterpret_cast<PyObject*>(o);
}

void DetachStartResponse(PyObject* sr) { reinterpret_cast<StartResponseObject*>(sr)->rs = nullptr; }

}  // namespace pyhost
