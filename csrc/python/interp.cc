#include "python/interp.h"

#include <chrono>
#include <thread>

#include "python/log.h"
#include "python/pyhost_module.h"
#include "python/pyref.h"
#include "python/runtime.h"
#include "pyhost/embedded_python.h"

namespace pyhost {
namespace {

PyObject* StringList(const std::vector<std::string>& items) {
  PyObject* list = PyList_New(0);
  if (!list) return nullptr;
  for (const auto& s : items) {
    PyRef str(PyUnicode_DecodeFSDefaultAndSize(s.data(), s.size()));
    if (!str || PyList_Append(list, str.get()) < 0) {
      Py_DECREF(list);
      return nullptr;
    }
  }
  return list;
}

}  // namespace

Interp::~Interp() = default;

bool Interp::Bootstrap(const std::vector<std::string>& path, bool strict, ErrorInfo* err) {
  PyRef module(PyImport_ImportModule("_pyhost"));
  if (!module) {
    *err = FetchPythonError();
    return false;
  }
  SetModuleInterp(module.get(), this);
  PyRef globals(PyDict_New());
  PyDict_SetItemString(globals.get(), "__builtins__", PyEval_GetBuiltins());
  PyRef code(Py_CompileString(embedded::kBootstrap, "<pyhost bootstrap>", Py_file_input));
  PyRef ran(code ? PyEval_EvalCode(code.get(), globals.get(), globals.get()) : nullptr);
  PyObject* fn = ran ? PyDict_GetItemString(globals.get(), "_pyhost_bootstrap") : nullptr;
  PyRef entries(fn ? StringList(path) : nullptr);
  PyRef result(entries ? PyObject_CallFunction(fn, "OO", entries.get(), strict ? Py_True : Py_False) : nullptr);
  if (!result || ModuleBootstrapped(module.get()) < 0) {
    *err = FetchPythonError();
    err->code = "ERR_INTERPRETER_START";
    return false;
  }
  module_ = module.release();
  return true;
}

bool Interp::RunPrelude(const std::string& source, ErrorInfo* err) {
  PyRef globals(PyDict_New());
  PyDict_SetItemString(globals.get(), "__builtins__", PyEval_GetBuiltins());
  PyRef code(Py_CompileString(source.c_str(), "<pyhost prelude>", Py_file_input));
  PyRef ran(code ? PyEval_EvalCode(code.get(), globals.get(), globals.get()) : nullptr);
  if (!ran) {
    *err = FetchPythonError();
    err->code = "ERR_INTERPRETER_START";
    return false;
  }
  return true;
}

std::shared_ptr<Interp> Interp::AdoptMain(PyThreadState* main_ts, const std::vector<std::string>& path,
                                          ErrorInfo* err) {
  std::shared_ptr<Interp> in(new Interp());
  in->name_ = "%{GLOBAL}";
  in->kind_ = InterpKind::kMain;
  in->state_ = main_ts->interp;
  in->owner_ts_ = main_ts;
  if (!in->Bootstrap(path, false, err)) return nullptr;
  return in;
}

std::shared_ptr<Interp> Interp::CreateSub(const InterpSpec& spec, PyThreadState* main_ts, ErrorInfo* err) {
  std::shared_ptr<Interp> in(new Interp());
  in->name_ = spec.name;
  in->kind_ = spec.kind;
  PyEval_RestoreThread(main_ts);
  PyThreadState* ts = nullptr;
#if PY_VERSION_HEX >= 0x030C0000
  PyInterpreterConfig config = {};
  config.allow_threads = 1;
  if (spec.kind == InterpKind::kOwnGil) {
    config.use_main_obmalloc = 0;
    config.allow_fork = 0;
    config.allow_exec = 0;
    config.allow_daemon_threads = 0;
    config.check_multi_interp_extensions = 1;
    config.gil = PyInterpreterConfig_OWN_GIL;
  } else {
    // The legacy sub-interpreter mod_wsgi uses, optionally refusing single-phase extensions.
    config.use_main_obmalloc = 1;
    config.allow_fork = 1;
    config.allow_exec = 1;
    config.allow_daemon_threads = 1;
    config.check_multi_interp_extensions = spec.strict_extensions ? 1 : 0;
    config.gil = PyInterpreterConfig_SHARED_GIL;
  }
  PyStatus status = Py_NewInterpreterFromConfig(&ts, &config);
  if (PyStatus_Exception(status) || !ts) {
    if (CurrentThreadState() == main_ts) PyEval_SaveThread();
    *err = ErrorInfo::Make("ERR_INTERPRETER_START", std::string("could not create sub-interpreter for group ") +
                                                        spec.name + ": " + (status.err_msg ? status.err_msg : "unknown error"));
    return nullptr;
  }
#else
  if (spec.kind == InterpKind::kOwnGil) {
    PyEval_SaveThread();
    *err = ErrorInfo::Make("ERR_OWN_GIL_UNSUPPORTED", "a per-interpreter GIL needs Python 3.12 or newer; this is Python " +
                                                           std::string(Py_GetVersion()).substr(0, std::string(Py_GetVersion()).find(' ')));
    return nullptr;
  }
  ts = Py_NewInterpreter();
  if (!ts) {
    if (CurrentThreadState() == main_ts) PyEval_SaveThread();
    *err = ErrorInfo::Make("ERR_INTERPRETER_START", "could not create sub-interpreter for group " + spec.name);
    return nullptr;
  }
#endif
  // The new thread state is current and holds the new interpreter's GIL.
  in->state_ = ts->interp;
  in->owner_ts_ = ts;
  if (!in->Bootstrap(spec.path, spec.strict_extensions, err) || (!spec.prelude.empty() && !in->RunPrelude(spec.prelude, err))) {
    Py_EndInterpreter(ts);
#if PY_VERSION_HEX < 0x030C0000
    PyThreadState_Swap(main_ts);
    PyEval_SaveThread();
#endif
    in->ended_ = true;
    return nullptr;
  }
  PyEval_SaveThread();
  return in;
}

void Interp::Attach() { attached_.fetch_add(1); }

void Interp::Detach() {
  if (attached_.fetch_sub(1) == 1 && retired_.load() && kind_ != InterpKind::kMain) {
    Runtime::Get().EndLater(shared_from_this());
  }
}

void Interp::Retire() {
  if (!retired_.exchange(true) && attached_.load() == 0 && kind_ != InterpKind::kMain) {
    Runtime::Get().EndLater(shared_from_this());
  }
}

void Interp::WhenEnded(std::function<void(bool)> cb) {
  {
    std::lock_guard<std::mutex> lock(waiters_mu_);
    if (!ended_.load()) {
      end_waiters_.push_back(std::move(cb));
      return;
    }
  }
  cb(true);
}

void Interp::NotifyEnd(bool ended) {
  std::vector<std::function<void(bool)>> waiters;
  {
    std::lock_guard<std::mutex> lock(waiters_mu_);
    waiters.swap(end_waiters_);
  }
  for (auto& w : waiters) w(ended);
}

int Interp::OtherThreadStates() const {
  int n = 0;
  for (PyThreadState* t = PyInterpreterState_ThreadHead(state_); t; t = PyThreadState_Next(t)) {
    if (t != owner_ts_) n++;
  }
  return n;
}

bool Interp::End(int wait_ms, std::string* why) {
  if (ended_ || kind_ == InterpKind::kMain) return true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  PyEval_RestoreThread(owner_ts_);
  // Python threads the application started must be gone first: Py_EndInterpreter waits for
  // non-daemon threads without a bound and aborts the process if any other thread state is left.
  while (OtherThreadStates() > 0 && std::chrono::steady_clock::now() < deadline) {
    Py_BEGIN_ALLOW_THREADS std::this_thread::sleep_for(std::chrono::milliseconds(5));
    Py_END_ALLOW_THREADS
  }
  int others = OtherThreadStates();
  if (others > 0) {
    PyEval_SaveThread();
    *why = "sub-interpreter of group " + name_ + " left running: " + std::to_string(others) +
           " of its threads did not finish";
    return false;
  }
  Py_CLEAR(module_);
  Py_EndInterpreter(owner_ts_);
#if PY_VERSION_HEX < 0x030C0000
  // 3.11 leaves the (shared) GIL held with no current thread state.
  PyThreadState_Swap(Runtime::Get().main_ts());
  PyEval_SaveThread();
#endif
  ended_ = true;
  owner_ts_ = nullptr;
  return true;
}

}  // namespace pyhost
