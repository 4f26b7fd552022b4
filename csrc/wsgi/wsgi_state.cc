#include "wsgi/wsgi_state.h"

#include "pyhost/embedded_python.h"
#include "python/pyhost_module.h"
#include "python/pyref.h"

namespace pyhost {
namespace {

const char* const kKeyNames[kEnvKeyCount] = {
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH", "SERVER_NAME",
    "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_ADDR", "REMOTE_ADDR", "REMOTE_PORT", "REQUEST_URI", "REQUEST_SCHEME",
    "HTTPS", "wsgi.version", "wsgi.url_scheme", "wsgi.input", "wsgi.errors", "wsgi.multithread",
    "wsgi.multiprocess", "wsgi.run_once", "wsgi.input_terminated", "wsgi.file_wrapper", "mod_wsgi.process_group",
    "mod_wsgi.application_group", "pyhost.process_group", "pyhost.application_group", "SERVER_SOFTWARE",
    "GATEWAY_INTERFACE"};

PyObject* Intern(const char* s) { return PyUnicode_InternFromString(s); }

}  // namespace

WsgiState* GetWsgiState(PyObject* module) { return static_cast<WsgiState*>(GetModuleState(module)->extension); }

namespace {

int Exec(PyObject* module, void** state) {
  auto* st = new WsgiState();
  *state = st;
  for (int i = 0; i < kEnvKeyCount; i++) {
    st->keys[i] = Intern(kKeyNames[i]);
    if (!st->keys[i]) return -1;
  }
  st->str_http = Intern("http");
  st->str_https = Intern("https");
  st->str_on = Intern("on");
  st->str_empty = Intern("");
  st->str_close = Intern("close");
  st->str_fileno = Intern("fileno");
  st->str_filelike = Intern("filelike");
  st->str_write = Intern("write");
  st->version_tuple = Py_BuildValue("(ii)", 1, 0);
  if (!st->str_http || !st->str_https || !st->str_on || !st->str_empty || !st->str_close || !st->str_fileno ||
      !st->str_filelike || !st->str_write || !st->version_tuple)
    return -1;
  if (InitStartResponseType(module, st) < 0) return -1;
  if (InitInputStreamType(module, st) < 0) return -1;
  return 0;
}

// wsgi.errors is the interpreter's log stream for errors (sys.stderr as the bootstrap made it);
// wsgi.file_wrapper the class python/file_wrapper.py defines.
int Bootstrapped(PyObject*, void* state) {
  auto* st = static_cast<WsgiState*>(state);
  PyObject* stderr_stream = PySys_GetObject("stderr");  // borrowed
  if (!stderr_stream) {
    PyErr_SetString(PyExc_RuntimeError, "sys.stderr is missing after the bootstrap");
    return -1;
  }
  Py_XSETREF(st->errors_stream, Py_NewRef(stderr_stream));
  PyRef globals(PyDict_New());
  if (!globals || PyDict_SetItemString(globals.get(), "__builtins__", PyEval_GetBuiltins()) < 0) return -1;
  if (PyDict_SetItemString(globals.get(), "__name__", PyUnicode_FromString("pyhost.wsgi")) < 0) return -1;
  PyRef code(Py_CompileString(embedded::kFileWrapper, "<pyhost file_wrapper>", Py_file_input));
  PyRef ran(code ? PyEval_EvalCode(code.get(), globals.get(), globals.get()) : nullptr);
  PyObject* cls = ran ? PyDict_GetItemString(globals.get(), "FileWrapper") : nullptr;  // borrowed
  if (!cls) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "python/file_wrapper.py defines no FileWrapper");
    return -1;
  }
  Py_XSETREF(st->file_wrapper_type, Py_NewRef(cls));
  return 0;
}

int Traverse(void* state, visitproc visit, void* arg) {
  auto* st = static_cast<WsgiState*>(state);
  Py_VISIT(st->start_response_type);
  Py_VISIT(st->input_type);
  Py_VISIT(st->file_wrapper_type);
  Py_VISIT(st->errors_stream);
  for (auto& [k, e] : st->apps) {
    Py_VISIT(e.app);
    Py_VISIT(e.module);
  }
  return 0;
}

void Clear(void* state) {
  auto* st = static_cast<WsgiState*>(state);
  Py_CLEAR(st->start_response_type);
  Py_CLEAR(st->input_type);
  Py_CLEAR(st->file_wrapper_type);
  Py_CLEAR(st->errors_stream);
  for (auto& k : st->keys) Py_CLEAR(k);
  Py_CLEAR(st->str_http);
  Py_CLEAR(st->str_https);
  Py_CLEAR(st->str_on);
  Py_CLEAR(st->str_empty);
  Py_CLEAR(st->str_close);
  Py_CLEAR(st->str_fileno);
  Py_CLEAR(st->str_filelike);
  Py_CLEAR(st->str_write);
  Py_CLEAR(st->version_tuple);
  for (auto& [k, v] : st->header_keys) Py_CLEAR(v);
  st->header_keys.clear();
  for (auto& [k, e] : st->apps) {
    Py_CLEAR(e.app);
    Py_CLEAR(e.module);
  }
  st->apps.clear();
}

void Free(void* state) { delete static_cast<WsgiState*>(state); }

const ModuleExtension kWsgiExtension = {Exec, Bootstrapped, Traverse, Clear, Free};

}  // namespace

void RegisterWsgiModule() { SetModuleExtension(&kWsgiExtension); }

}  // namespace pyhost
