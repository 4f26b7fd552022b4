// The WSGI environ (PEP 3333): CGI keys, HTTP_* headers, wsgi.* and the group keys.
#include <cctype>

#include "python/pyref.h"
#include "wsgi/wsgi_state.h"

namespace pyhost {
namespace {

constexpr size_t kHeaderKeyCacheLimit = 512;

PyObject* Latin1(const std::string& s) { return PyUnicode_DecodeLatin1(s.data(), s.size(), nullptr); }

int SetStr(PyObject* env, PyObject* key, const std::string& value) {
  PyRef v(Latin1(value));
  return v ? PyDict_SetItem(env, key, v.get()) : -1;
}

// "User-Agent" -> "HTTP_USER_AGENT" (new reference; interned and cached per interpreter).
// nullptr without an error set: drop the header.
PyObject* HeaderKey(WsgiState* st, const char* name, size_t len, bool pass_auth, bool* is_special) {
  std::string lower(name, len);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  *is_special = false;
  if (lower == "content-type") {
    *is_special = true;
    return Py_NewRef(st->keys[kCONTENT_TYPE]);
  }
  if (lower == "content-length") {
    *is_special = true;
    return Py_NewRef(st->keys[kCONTENT_LENGTH]);
  }
  // A '_' in a name would alias the '-' spelling in environ: such headers are dropped, as
  // Apache does. Authorization only passes when asked (WSGIPassAuthorization). Proxy is
  // dropped against httpoxy.
  if (lower.find('_') != std::string::npos) return nullptr;
  if (!pass_auth && lower == "authorization") return nullptr;
  if (lower == "proxy") return nullptr;
  auto it = st->header_keys.find(lower);
  if (it != st->header_keys.end()) return Py_NewRef(it->second);
  std::string key = "HTTP_";
  key.reserve(5 + len);
  for (char c : lower) key += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  PyObject* k = PyUnicode_InternFromString(key.c_str());
  if (!k) return nullptr;
  if (st->header_keys.size() < kHeaderKeyCacheLimit) st->header_keys.emplace(lower, Py_NewRef(k));
  return k;
}

// An entry whose name starts with this byte is a CGI variable the host set (REMOTE_USER and
// AUTH_TYPE after access control), not a header: header names are HTTP tokens, which cannot hold
// a control character (Node's parser answers 400), so no client can send one.
constexpr char kHostVariable = '\x01';

int AddHeaders(WsgiState* st, PyObject* env, const RequestHead& h) {
  const std::string& s = h.headers;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) break;
    size_t vend = s.find('\n', nl + 1);
    if (vend == std::string::npos) vend = s.size();
    if (nl - pos > 1 && s[pos] == kHostVariable) {
      PyRef key(PyUnicode_FromStringAndSize(s.data() + pos + 1, nl - pos - 1));
      if (!key || SetStr(env, key.get(), s.substr(nl + 1, vend - nl - 1)) < 0) return -1;
      pos = vend + 1;
      continue;
    }
    bool special = false;
    PyRef key(HeaderKey(st, s.data() + pos, nl - pos, h.pass_authorization, &special));
    if (PyErr_Occurred()) return -1;
    if (key) {
      PyRef value(PyUnicode_DecodeLatin1(s.data() + nl + 1, vend - nl - 1, nullptr));
      if (!value) return -1;
      PyObject* prev = PyDict_GetItemWithError(env, key.get());
      if (prev && !special) {
        // Repeated headers are joined with ", " (RFC 9110 5.3).
        PyRef sep(PyUnicode_FromString(", "));
        PyRef joined(PyUnicode_Concat(prev, sep.get()));
        if (!joined) return -1;
        value.reset(PyUnicode_Concat(joined.get(), value.get()));
        if (!value) return -1;
      }
      if (PyDict_SetItem(env, key.get(), value.get()) < 0) return -1;
    }
    pos = vend + 1;
  }
  return 0;
}

}  // namespace

PyObject* BuildEnviron(WsgiState* st, const RequestHead& h, PyObject* input) {
  PyRef env(_PyDict_NewPresized(40));
  if (!env) return nullptr;
  PyObject* e = env.get();
  PyObject** k = st->keys;
  if (SetStr(e, k[kREQUEST_METHOD], h.method) < 0 || SetStr(e, k[kSCRIPT_NAME], h.script_name) < 0 ||
      SetStr(e, k[kPATH_INFO], h.path_info) < 0 || SetStr(e, k[kQUERY_STRING], h.query) < 0 ||
      SetStr(e, k[kREQUEST_URI], h.request_uri) < 0 || SetStr(e, k[kSERVER_NAME], h.server_name) < 0 ||
      SetStr(e, k[kSERVER_PORT], h.server_port) < 0 || SetStr(e, k[kSERVER_PROTOCOL], h.protocol) < 0 ||
      SetStr(e, k[kREMOTE_ADDR], h.remote_addr) < 0 || SetStr(e, k[kREMOTE_PORT], h.remote_port) < 0 ||
      SetStr(e, k[kSERVER_SOFTWARE], "pyhost") < 0 || SetStr(e, k[kGATEWAY_INTERFACE], "CGI/1.1") < 0 ||
      SetStr(e, k[kmod_wsgi_process_group], h.process_group) < 0 ||
      SetStr(e, k[kmod_wsgi_application_group], h.application_group) < 0 ||
      SetStr(e, k[kpyhost_process_group], h.process_group) < 0 ||
      SetStr(e, k[kpyhost_application_group], h.application_group) < 0)
    return nullptr;
  if (!h.local_addr.empty() && SetStr(e, k[kSERVER_ADDR], h.local_addr) < 0) return nullptr;
  bool https = h.scheme == "https";
  PyObject* scheme = https ? st->str_https : st->str_http;
  if (PyDict_SetItem(e, k[kREQUEST_SCHEME], scheme) < 0 || PyDict_SetItem(e, k[kwsgi_url_scheme], scheme) < 0)
    return nullptr;
  if (https && PyDict_SetItem(e, k[kHTTPS], st->str_on) < 0) return nullptr;
  if (AddHeaders(st, e, h) < 0) return nullptr;
  for (const auto& [name, value] : h.extra) {
    PyRef key(PyUnicode_FromStringAndSize(name.data(), name.size()));
    if (!key || SetStr(e, key.get(), value) < 0) return nullptr;
  }
  if (PyDict_SetItem(e, k[kwsgi_version], st->version_tuple) < 0 ||
      PyDict_SetItem(e, k[kwsgi_input], input) < 0 ||
      PyDict_SetItem(e, k[kwsgi_errors], st->errors_stream ? st->errors_stream : Py_None) < 0 ||
      PyDict_SetItem(e, k[kwsgi_multithread], h.multithread ? Py_True : Py_False) < 0 ||
      PyDict_SetItem(e, k[kwsgi_multiprocess], h.multiprocess ? Py_True : Py_False) < 0 ||
      PyDict_SetItem(e, k[kwsgi_run_once], Py_False) < 0 ||
      PyDict_SetItem(e, k[kwsgi_input_terminated], Py_True) < 0 ||
      (st->file_wrapper_type && PyDict_SetItem(e, k[kwsgi_file_wrapper], st->file_wrapper_type) < 0))
    return nullptr;
  return env.release();
}

}  // namespace pyhost
