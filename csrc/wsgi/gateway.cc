// Runs one WSGI request on a worker (PEP 3333): load the application, build environ, call it,
// stream what it returns (or hand a file to the host), and always call close().
#include <malloc.h>
#include <strings.h>

#include <atomic>
#include <chrono>
#include <sys/stat.h>
#include <unistd.h>

#include "python/group.h"
#include "python/log.h"
#include "python/pyref.h"
#include "wsgi/error_status.h"
#include "wsgi/wsgi_state.h"

namespace pyhost {
namespace {

// Big bodies go through 64 KiB chunks allocated and freed on different threads; glibc keeps the
// freed chunks in per-thread arenas, so the RSS ratchets up after large transfers (measured: past
// 200 MB after a 1 GB response and 100 MB uploads). Giving free memory back after a request that
// moved this much keeps it bounded, without the cost of mmap'ing every chunk.
constexpr int64_t kTrimAfterBytes = 8 << 20;

void ReturnFreedMemory() {
  static std::atomic<int64_t> last{0};
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  if (now - last.load() < 100) return;  // at most 10 times a second
  last.store(now);
  Py_BEGIN_ALLOW_THREADS malloc_trim(0);
  Py_END_ALLOW_THREADS
}

bool HasHeader(const HeaderList& headers, const char* name) {
  for (const auto& h : headers)
    if (strcasecmp(h.first.c_str(), name) == 0) return true;
  return false;
}

const char* ReasonFor(int status) {
  switch (status) {
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

// A whole plain-text error response (the head was not sent yet).
void SendErrorResponse(WsgiRequest* req, int status) {
  std::string body = std::string(ReasonFor(status)) + "\n";
  req->SendHead(status, ReasonFor(status),
                {{"Content-Type", "text/plain; charset=utf-8"}, {"Content-Length", std::to_string(body.size())}});
  req->WriteBody(body.data(), body.size());
}

// Logs the pending Python exception as mod_wsgi does. Returns true if the response can still be
// an error response (head not sent), false if the connection must be cut.
bool HandleAppError(WsgiRequest* req, const std::string& script) {
  ErrorInfo e = FetchPythonError();
  LogGroupError("Exception occurred processing WSGI script '" + script + "'.\n" +
           (e.traceback.empty() ? e.type + ": " + e.message : e.traceback));
  if (req->head_sent()) return false;
  SendErrorResponse(req, 500);
  return true;
}

// wsgi.file_wrapper around a real file: the host streams it from the descriptor.
// Returns 1 done, 0 not eligible (iterate normally), -1 error set, -2 client gone.
int TrySendfile(WsgiState* st, ResponseState* rs, PyObject* result) {
  if (!st->file_wrapper_type || Py_TYPE(result) != reinterpret_cast<PyTypeObject*>(st->file_wrapper_type)) return 0;
  PyRef filelike(PyObject_GetAttr(result, st->str_filelike));
  PyRef fdobj(filelike ? PyObject_CallMethodNoArgs(filelike.get(), st->str_fileno) : nullptr);
  if (!fdobj) {
    PyErr_Clear();
    return 0;
  }
  int fd = static_cast<int>(PyLong_AsLong(fdobj.get()));
  struct stat sb;
  if (fd < 0 || PyErr_Occurred() || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    PyErr_Clear();
    return 0;
  }
  // Flush Python-level buffering, then start where the file object is positioned.
  PyRef tell(PyObject_CallMethod(filelike.get(), "tell", nullptr));
  if (!tell) {
    PyErr_Clear();
    return 0;
  }
  int64_t offset = PyLong_AsLongLong(tell.get());
  int64_t length = sb.st_size - offset;
  if (length < 0) length = 0;
  WsgiRequest* req = rs->req;
  if (!req->head_sent() && rs->started && !HasHeader(rs->headers, "Content-Length")) {
    rs->headers.emplace_back("Content-Length", std::to_string(length));
  }
  if (!SendPendingHead(rs)) return -1;
  if (req->content_length() >= 0 && req->content_length() < length) length = req->content_length();
  if (req->is_head_method() || length == 0) return 1;
  if (!req->Sendfile(fd, offset, length)) return -2;
  bool ok;
  Py_BEGIN_ALLOW_THREADS ok = req->WaitSendfile();
  Py_END_ALLOW_THREADS
  return ok ? 1 : -2;
}

// A body shorter than its Content-Length cannot end cleanly on a kept-alive connection: the
// response is cut (the client sees it truncated) rather than leaving the client waiting.
bool ShortOfContentLength(WsgiRequest* req) {
  return !req->is_head_method() && req->content_length() >= 0 && req->body_sent() < req->content_length();
}

// Streams the iterable. Returns false when the response must be cut short.
bool StreamResult(WsgiState* st, ResponseState* rs, PyObject* result, const std::string& script) {
  WsgiRequest* req = rs->req;
  int sf = TrySendfile(st, rs, result);
  if (sf == 1) return true;
  if (sf == -2) return false;
  if (sf == -1) return HandleAppError(req, script);

  if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
    // The common case: the whole body is known, so it gets a Content-Length.
    Py_ssize_t n = PySequence_Fast_GET_SIZE(result);
    PyObject** items = PySequence_Fast_ITEMS(result);
    int64_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
      if (!PyBytes_Check(items[i])) {
        PyErr_Format(PyExc_TypeError, "response body items must be bytes, not %.200s", Py_TYPE(items[i])->tp_name);
        return HandleAppError(req, script);
      }
      total += PyBytes_GET_SIZE(items[i]);
    }
    if (!rs->started) {
      PyErr_SetString(PyExc_RuntimeError, "the application returned without calling start_response()");
      return HandleAppError(req, script);
    }
    if (!req->head_sent() && !HasHeader(rs->headers, "Content-Length")) {
      rs->headers.emplace_back("Content-Length", std::to_string(total));
    }
    // Small and complete: head, body and end go to the host in one hand-off (at Finish).
    if (total <= 64 * 1024) req->DeferNotify();
    if (!SendPendingHead(rs)) return HandleAppError(req, script);
    for (Py_ssize_t i = 0; i < n; i++) {
      if (!WriteChunk(rs, PyBytes_AS_STRING(items[i]), PyBytes_GET_SIZE(items[i]))) return false;
    }
    return !ShortOfContentLength(req);
  }

  PyRef iter(PyObject_GetIter(result));
  if (!iter) return HandleAppError(req, script);
  for (;;) {
    PyRef item(PyIter_Next(iter.get()));
    if (!item) break;
    if (!PyBytes_Check(item.get())) {
      PyErr_Format(PyExc_TypeError, "response body items must be bytes, not %.200s", Py_TYPE(item.get())->tp_name);
      return HandleAppError(req, script);
    }
    Py_ssize_t len = PyBytes_GET_SIZE(item.get());
    if (len == 0) continue;  // PEP 3333: the head waits for the first non-empty chunk
    if (!SendPendingHead(rs)) return HandleAppError(req, script);
    if (!WriteChunk(rs, PyBytes_AS_STRING(item.get()), len)) return false;
  }
  if (PyErr_Occurred()) return HandleAppError(req, script);
  if (!req->head_sent()) {
    if (!rs->started) {
      PyErr_SetString(PyExc_RuntimeError, "the application returned without calling start_response()");
      return HandleAppError(req, script);
    }
    if (!HasHeader(rs->headers, "Content-Length")) rs->headers.emplace_back("Content-Length", "0");
    if (!SendPendingHead(rs)) return HandleAppError(req, script);
  }
  return !ShortOfContentLength(req);
}

void CloseResult(PyObject* result, const std::string& script) {
  PyObject* close = PyObject_GetAttrString(result, "close");
  if (!close) {
    PyErr_Clear();
    return;
  }
  PyRef r(PyObject_CallNoArgs(close));
  Py_DECREF(close);
  if (!r) {
    ErrorInfo e = FetchPythonError();
    LogGroupError("Exception occurred while closing the response of WSGI script '" + script + "'.\n" + e.traceback);
  }
}

}  // namespace

void WsgiRequest::Run(Worker& w) {
  running_thread_.store(w.ident());
  if (cancelled()) {  // withdrawn while queued (queue timeout) or the client left: do not run
    Finish(true);
    return;
  }
  WsgiState* st = GetWsgiState(w.interp().module());
  const std::string& script = app_.target;
  ErrorInfo err;
  PyObject* app = GetApplication(st, app_, &err);
  if (!app) {
    if (!err.refused_module.empty()) {
      Refused(err.refused_module, err.type + ": " + err.message);
      return;
    }
    SendErrorResponse(this, ErrorStatus(err.code));
    Finish(false);
    return;
  }
  bool abort = false;
  ResponseState rs;
  rs.req = this;
  PyRef input(NewInputStream(st, this));
  PyRef environ(input ? BuildEnviron(st, head_, input.get()) : nullptr);
  PyRef sr(environ ? NewStartResponse(st, &rs) : nullptr);
  if (!sr) {
    abort = !HandleAppError(this, script);
  } else {
    PyObject* args[] = {environ.get(), sr.get()};
    PyRef result(PyObject_Vectorcall(app, args, 2, nullptr));
    if (!result) {
      abort = !HandleAppError(this, script);
    } else {
      abort = !StreamResult(st, &rs, result.get(), script);
      if (PyErr_Occurred()) PyErr_Clear();
      CloseResult(result.get(), script);
    }
  }
  if (sr) DetachStartResponse(sr.get());
  if (input) DetachInputStream(input.get());
  sr.reset();
  environ.reset();
  input.reset();
  bool big = bytes_moved() >= kTrimAfterBytes;
  Finish(abort);  // the host may free this request as soon as it sees the end: no member use after
  if (big) ReturnFreedMemory();
}

void WsgiRequest::Abort(const ErrorInfo& why) {
  int status = ErrorStatus(why.code);
  if (status == 500 && !why.message.empty()) Log(LogLevel::kError, head_.application_group, why.message);
  SendErrorResponse(this, status);
  Finish(false);
}

}  // namespace pyhost
