// Sending the response head and body chunks from the worker.
#include "wsgi/wsgi_state.h"

namespace pyhost {

bool SendPendingHead(ResponseState* rs) {
  if (rs->req->head_sent()) return true;
  if (!rs->started) {
    PyErr_SetString(PyExc_RuntimeError, "the application sent body data before calling start_response()");
    return false;
  }
  rs->req->SendHead(rs->status, std::move(rs->reason), std::move(rs->headers));
  return true;
}

bool WriteChunk(ResponseState* rs, const char* data, size_t len) {
  if (rs->req->over_high_water()) {
    bool ok;
    Py_BEGIN_ALLOW_THREADS ok = rs->req->WaitWritable();
    Py_END_ALLOW_THREADS
    if (!ok) return false;
  }
  return rs->req->WriteBody(data, len);
}

}  // namespace pyhost
