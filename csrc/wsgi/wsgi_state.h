// Per-interpreter state of the WSGI gateway, kept in the `_pyhost` module's state: heap types,
// interned environ keys, the template environ and the loaded applications. Used only with the
// interpreter's GIL held.
#pragma once
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string>
#include <unordered_map>

#include "python/error_info.h"
#include "wsgi/request.h"

namespace pyhost {

class WsgiRequest;

// The worker-side state of one response while the application runs.
struct ResponseState {
  WsgiRequest* req = nullptr;
  bool started = false;  // start_response called
  int status = 0;
  std::string reason;
  HeaderList headers;
};

// An O_PATH descriptor of a loaded script file: fstat on it says, without a walk of the path on
// every request, whether the file changed (mtime) or went (no link left).
struct ScriptHandle {
  int fd = -1;
  ScriptHandle() = default;
  ScriptHandle(const ScriptHandle&) = delete;
  ScriptHandle& operator=(const ScriptHandle&) = delete;
  ~ScriptHandle();
  void Reset(int new_fd);
};

struct AppEntry {
  PyObject* app = nullptr;      // the WSGI callable (strong)
  PyObject* module = nullptr;   // the script's module (strong), scripts only
  ScriptHandle script;          // scripts only
  double mtime = 0;
  unsigned long loader = 0;     // thread loading it now (others wait), 0 when none
};

enum EnvKey {
  kREQUEST_METHOD, kSCRIPT_NAME, kPATH_INFO, kQUERY_STRING, kCONTENT_TYPE, kCONTENT_LENGTH, kSERVER_NAME,
  kSERVER_PORT, kSERVER_PROTOCOL, kSERVER_ADDR, kREMOTE_ADDR, kREMOTE_PORT, kREQUEST_URI, kREQUEST_SCHEME, kHTTPS,
  kwsgi_version, kwsgi_url_scheme, kwsgi_input, kwsgi_errors, kwsgi_multithread, kwsgi_multiprocess,
  kwsgi_run_once, kwsgi_input_terminated, kwsgi_file_wrapper, kmod_wsgi_process_group, kmod_wsgi_application_group,
  kpyhost_process_group, kpyhost_application_group, kSERVER_SOFTWARE, kGATEWAY_INTERFACE, kEnvKeyCount
};

struct WsgiState {
  PyObject* start_response_type = nullptr;
  PyObject* input_type = nullptr;
  PyObject* file_wrapper_type = nullptr;  // set after bootstrap
  PyObject* errors_stream = nullptr;      // set after bootstrap: the log stream at level error
  PyObject* keys[kEnvKeyCount] = {};
  PyObject* str_http = nullptr, *str_https = nullptr, *str_on = nullptr, *str_empty = nullptr;
  PyObject* str_close = nullptr, *str_fileno = nullptr, *str_filelike = nullptr, *str_write = nullptr;
  PyObject* version_tuple = nullptr;
  std::unordered_map<std::string, PyObject*> header_keys;  // "user-agent" -> "HTTP_USER_AGENT" (strong)
  std::unordered_map<std::string, AppEntry> apps;
};

WsgiState* GetWsgiState(PyObject* pyhost_module);
// Makes the gateway keep its state in every interpreter's `_pyhost` module (a ModuleExtension).
// The host calls it once, before the Python runtime starts.
void RegisterWsgiModule();

// environ.cc: a new environ dict for the request (GIL held).
PyObject* BuildEnviron(WsgiState* st, const RequestHead& head, PyObject* input);
// start_response.cc
PyObject* NewStartResponse(WsgiState* st, ResponseState* rs);
void DetachStartResponse(PyObject* sr);
int InitStartResponseType(PyObject* module, WsgiState* st);
// input_stream.cc
PyObject* NewInputStream(WsgiState* st, WsgiRequest* req);
void DetachInputStream(PyObject* input);
int InitInputStreamType(PyObject* module, WsgiState* st);
// app_cache.cc: the WSGI callable (borrowed), loading or reloading it; nullptr with *err set.
PyObject* GetApplication(WsgiState* st, const AppSpec& spec, ErrorInfo* err);

// response.cc: sends the pending head (from start_response) if not sent yet. False: invalid
// (a Python error is set).
bool SendPendingHead(ResponseState* rs);
// Writes one body chunk (sends the head first), waiting with the GIL released when the client
// is slow. False when the client has gone (no Python error set).
bool WriteChunk(ResponseState* rs, const char* data, size_t len);

}  // namespace pyhost
