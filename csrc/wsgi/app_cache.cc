// Finds the WSGI callable of a mount in this interpreter: a script file loaded as a module (as
// mod_wsgi's WSGIScriptAlias does, reloaded when its mtime changes if asked) or an importable
// "pkg.module:callable". A script that fails to load is tried again on the next request.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <sstream>

#include "python/group.h"
#include "python/log.h"
#include "python/pyref.h"
#include "wsgi/wsgi_state.h"

#include <pythread.h>

namespace pyhost {
namespace {

std::string ModuleNameFor(const std::string& path) {
  // FNV-1a: a stable, short name per script path.
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : path) h = (h ^ c) * 1099511628211ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "_pyhost_wsgi_%016llx", static_cast<unsigned long long>(h));
  return buf;
}

PyObject* LoadScriptModule(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    PyErr_Format(PyExc_FileNotFoundError, "WSGI script %s cannot be read", path.c_str());
    return nullptr;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string source = ss.str();
  std::string name = ModuleNameFor(path);
  PyRef module(PyModule_New(name.c_str()));
  if (!module) return nullptr;
  PyObject* dict = PyModule_GetDict(module.get());
  PyRef file(PyUnicode_DecodeFSDefault(path.c_str()));
  if (!file || PyDict_SetItemString(dict, "__file__", file.get()) < 0 ||
      PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) < 0)
    return nullptr;
  PyRef code(Py_CompileStringObject(source.c_str(), file.get(), Py_file_input, nullptr, -1));
  if (!code) return nullptr;
  PyObject* modules = PyImport_GetModuleDict();
  if (PyDict_SetItemString(modules, name.c_str(), module.get()) < 0) return nullptr;
  PyRef ran(PyEval_EvalCode(code.get(), dict, dict));
  if (!ran) {
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyDict_DelItemString(modules, name.c_str());
    PyErr_Clear();
    PyErr_Restore(t, v, tb);
    return nullptr;
  }
  return module.release();
}

PyObject* ImportEntryPoint(const std::string& target, const std::string& fallback_callable) {
  size_t colon = target.find(':');
  std::string mod = target.substr(0, colon);
  std::string attr = colon == std::string::npos ? fallback_callable : target.substr(colon + 1);
  PyRef obj(ImportModule(mod.c_str()));
  size_t start = 0;
  while (obj) {
    size_t dot = attr.find('.', start);
    std::string part = attr.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    PyObject* next = PyObject_GetAttrString(obj.get(), part.c_str());
    if (!next) {
      PyErr_Format(PyExc_AttributeError, "module %s has no WSGI application '%s'", mod.c_str(), attr.c_str());
      return nullptr;
    }
    obj.reset(next);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return obj.release();
}

}  // namespace

ScriptHandle::~ScriptHandle() {
  if (fd >= 0) ::close(fd);
}

void ScriptHandle::Reset(int new_fd) {
  if (fd >= 0) ::close(fd);
  fd = new_fd;
}

PyObject* GetApplication(WsgiState* st, const AppSpec& spec, ErrorInfo* err) {
  std::string key = (spec.is_module ? "m:" : "s:") + spec.target + "|" + spec.callable;
  double mtime = 0;
  if (!spec.is_module) {
    // As mod_wsgi, the script is looked at on every request (gone: 404; newer: reloaded when
    // asked). A loaded script is looked at through its descriptor; only when it has no link left
    // (removed, or replaced by a rename) does its path decide.
    struct stat sb;
    auto loaded = st->apps.find(key);
    ScriptHandle* handle = loaded == st->apps.end() ? nullptr : &loaded->second.script;
    if (!handle || handle->fd < 0 || fstat(handle->fd, &sb) != 0 || sb.st_nlink == 0) {
      if (stat(spec.target.c_str(), &sb) != 0) {
        *err = ErrorInfo::Make("ERR_SCRIPT_NOT_FOUND", "WSGI script " + spec.target + " does not exist");
        return nullptr;
      }
      if (handle && handle->fd >= 0) handle->Reset(::open(spec.target.c_str(), O_PATH | O_CLOEXEC));
    }
    mtime = static_cast<double>(sb.st_mtim.tv_sec) + sb.st_mtim.tv_nsec / 1e9;
  }
  unsigned long self = PyThread_get_thread_ident();
  for (;;) {
    auto it = st->apps.find(key);
    if (it == st->apps.end()) break;
    AppEntry& e = it->second;
    if (e.loader != 0) {
      if (e.loader == self) {
        *err = ErrorInfo::Make("ERR_APP_LOAD", "WSGI script " + spec.target + " imports itself while loading");
        return nullptr;
      }
      // Another worker is loading it (running Python, which may release the GIL): wait for it,
      // as mod_wsgi serialises script loading.
      Py_BEGIN_ALLOW_THREADS std::this_thread::sleep_for(std::chrono::milliseconds(1));
      Py_END_ALLOW_THREADS
      continue;
    }
    if (e.app && !(spec.reload && !spec.is_module && e.mtime != mtime)) return e.app;
    Py_CLEAR(e.app);
    Py_CLEAR(e.module);
    break;
  }
  // Loaded now: failures are not remembered, so every request retries (and logs), as mod_wsgi.
  st->apps[key].loader = self;
  PyRef module, app;
  if (spec.is_module) {
    app.reset(ImportEntryPoint(spec.target, spec.callable));
  } else {
    module.reset(LoadScriptModule(spec.target));
    if (module) {
      app.reset(PyObject_GetAttrString(module.get(), spec.callable.c_str()));
      if (!app) {
        PyErr_Clear();
        PyErr_Format(PyExc_AttributeError, "Target WSGI script '%s' does not contain WSGI application '%s'.",
                     spec.target.c_str(), spec.callable.c_str());
      }
    }
  }
  if (app && !PyCallable_Check(app.get())) {
    PyErr_Format(PyExc_TypeError, "WSGI application '%s' in %s is not callable", spec.callable.c_str(),
                 spec.target.c_str());
    app.reset();
  }
  if (!app) {
    st->apps.erase(key);
    *err = FetchPythonError();
    err->code = "ERR_APP_LOAD";
    if (err->refused_module.empty()) {
      LogGroupError("Failed to load WSGI " + std::string(spec.is_module ? "entry point " : "script ") + spec.target + ":\n" +
               (err->traceback.empty() ? err->type + ": " + err->message : err->traceback));
    }
    return nullptr;
  }
  AppEntry& e = st->apps[key];
  e.loader = 0;
  e.mtime = mtime;
  e.app = app.release();
  e.module = module.release();
  if (!spec.is_module) e.script.Reset(::open(spec.target.c_str(), O_PATH | O_CLOEXEC));
  return e.app;
}

}  // namespace pyhost
