#include "python/runtime.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "python/group.h"
#include "python/interp_pool.h"
#include "python/log.h"
#include "python/pyhost_module.h"
#include "python/pyref.h"

namespace pyhost {
namespace {

using Clock = std::chrono::steady_clock;

// Creating an interpreter takes 15-25 ms of CPU. Done ahead of need (a warm pool refilling
// right after a tenant took one), it competes for the cores with the requests and calls of
// the groups already running, which matter more. Such creations run at a
// lower priority (nice +10, this thread only). Raising nice needs no privilege; lowering it
// back may (RLIMIT_NICE): then the runtime thread stays lower, which only delays its own
// background work (interpreter creation and teardown), never a running request.
class BackgroundPriority {
 public:
  explicit BackgroundPriority(bool on) {
    if (!on) return;
    tid_ = static_cast<pid_t>(syscall(SYS_gettid));
    errno = 0;
    old_ = getpriority(PRIO_PROCESS, tid_);
    if (errno != 0 || old_ >= 10) return;
    active_ = setpriority(PRIO_PROCESS, tid_, 10) == 0;
  }
  ~BackgroundPriority() {
    if (active_) setpriority(PRIO_PROCESS, tid_, old_);
  }

 private:
  pid_t tid_ = 0;
  int old_ = 0;
  bool active_ = false;
};

// Set by RunShutdown on the runtime thread it runs on: that thread's loop ends after it. A
// thread-local, because a new runtime thread may already be starting.
thread_local bool tls_runtime_done = false;

void EnsureInittab() {
  for (struct _inittab* p = PyImport_Inittab; p && p->name; p++) {
    if (std::strcmp(p->name, "_pyhost") == 0) return;
  }
  PyImport_AppendInittab("_pyhost", PyInit__pyhost);
}

std::string StatusMessage(const PyStatus& s) {
  std::string m = s.err_msg ? s.err_msg : "unknown error";
  if (s.func) m = std::string(s.func) + ": " + m;
  if (PyStatus_IsExit(s)) m = "Python requested exit with status " + std::to_string(s.exitcode);
  return m;
}

// Non-daemon Python threads still alive in the current interpreter (GIL held): Py_FinalizeEx
// would wait for them without a bound.
int LiveNonDaemonThreads() {
  PyRef name(PyUnicode_FromString("_pyhost"));
  PyRef module(name ? PyImport_GetModule(name.get()) : nullptr);
  PyRef n(module ? PyObject_CallMethod(module.get(), "live_non_daemon_threads", nullptr) : nullptr);  // python/bootstrap.py
  if (!n) {
    PyErr_Clear();
    return 0;
  }
  return static_cast<int>(PyLong_AsLong(n.get()));
}

}  // namespace

Runtime& Runtime::Get() {
  static Runtime* instance = new Runtime();  // never destroyed: threads may outlive exit()
  return *instance;
}

bool Runtime::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_ == State::kRunning;
}

void Runtime::Start(const RuntimeOptions& opts, std::function<void(ErrorInfo, bool)> done) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (state_ == State::kRunning) {
      users_++;
      lock.unlock();
      done(ErrorInfo(), true);
      return;
    }
    if (state_ == State::kStarting) {
      attaching_.push_back(std::move(done));
      return;
    }
    if (state_ == State::kAbandoned) {
      lock.unlock();
      done(ErrorInfo::Make("ERR_RUNTIME_ABANDONED",
                           "Python could not be finalised cleanly earlier in this process (a thread would not "
                           "stop), so it cannot be started again; start a new process"), false);
      return;
    }
    if (state_ != State::kStopped) {
      lock.unlock();
      done(ErrorInfo::Make("ERR_RUNTIME_STOPPING",
                           "the Python runtime of this process is being finalised (another thread closed the last Engine); start again once it has"),
           false);
      return;
    }
    state_ = State::kStarting;
    users_ = 1;
    opts_ = opts;
    tasks_.clear();
  }
  std::thread(&Runtime::ThreadMain, this, std::move(done)).detach();
}

// The memory allocator is chosen before CPython first starts and cannot change for the life of
// the process (a restarted runtime may still free blocks the first one allocated).
bool Runtime::PreInitialize(ErrorInfo* err) {
  static std::string chosen;  // the first start's choice; later starts must keep it
  static bool started = false;
  std::string want = opts_.allocator.empty() && started ? chosen : opts_.allocator;
  if (started && want != chosen) {
    *err = ErrorInfo::Make("ERR_INVALID_OPTION", "allocator " + want + ": this process already ran Python with " +
                                                     (chosen.empty() ? "the default allocator" : "allocator " + chosen) +
                                                     "; the allocator is chosen once per process");
    return false;
  }
  started = true;
  chosen = want;
  if (want.empty()) return true;
  PyPreConfig pre;
  PyPreConfig_InitPythonConfig(&pre);
  pre.allocator = want == "malloc" ? PYMEM_ALLOCATOR_MALLOC : PYMEM_ALLOCATOR_PYMALLOC;
  PyStatus status = Py_PreInitialize(&pre);
  if (PyStatus_Exception(status)) {
    *err = ErrorInfo::Make("ERR_PYTHON_INIT", "CPython failed to pre-initialise: " + StatusMessage(status));
    return false;
  }
  return true;
}

bool Runtime::InitPython(ErrorInfo* err) {
  EnsureInittab();
  if (!PreInitialize(err)) return false;
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.install_signal_handlers = 0;  // Node owns signals
  config.parse_argv = 0;
  config.configure_c_stdio = 0;        // leave Node's stdio alone
  config.optimization_level = opts_.optimize;
  char* argv[] = {const_cast<char*>("pyhost")};
  PyStatus status = PyConfig_SetBytesArgv(&config, 1, argv);
  if (!PyStatus_Exception(status) && !opts_.program.empty()) {
    status = PyConfig_SetBytesString(&config, &config.program_name, opts_.program.c_str());
    if (!PyStatus_Exception(status))
      status = PyConfig_SetBytesString(&config, &config.executable, opts_.program.c_str());
  }
  if (!PyStatus_Exception(status) && !opts_.home.empty()) {
    status = PyConfig_SetBytesString(&config, &config.home, opts_.home.c_str());
  }
  if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status)) {
    *err = ErrorInfo::Make("ERR_PYTHON_INIT", "CPython failed to initialise: " + StatusMessage(status));
    return false;
  }
  return true;
}

void Runtime::StartEnded(const ErrorInfo& err, std::function<void(ErrorInfo, bool)>& done) {
  std::vector<std::function<void(ErrorInfo, bool)>> attaching;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (err.empty()) {
      state_ = State::kRunning;
      users_ += static_cast<int>(attaching_.size());
    } else {
      // A failed Py_InitializeFromConfig can leave CPython half set up: never retry it.
      state_ = Py_IsInitialized() ? State::kAbandoned : State::kStopped;
      users_ = 0;
    }
    attaching.swap(attaching_);
  }
  done(err, false);
  for (auto& d : attaching) d(err, err.empty());
}

void Runtime::ThreadMain(std::function<void(ErrorInfo, bool)> done) {
  ErrorInfo err;
  if (!InitPython(&err)) {
    StartEnded(err, done);
    return;
  }
  main_ts_ = PyThreadState_Get();
  {
    // Importing `signal` installs Python's SIGINT handler when SIGINT is at its default (even
    // with install_signal_handlers=0), and only the main interpreter's main thread could run
    // it: Ctrl-C would stop working. Import it now and put back what was there (Node's).
    // A placeholder handler while it imports makes it record "installed by someone else"
    // (getsignal() returns None) instead of installing its own.
    struct sigaction saved, placeholder = {};
    sigaction(SIGINT, nullptr, &saved);
    placeholder.sa_handler = [](int) {};
    sigemptyset(&placeholder.sa_mask);
    if (saved.sa_handler == SIG_DFL) sigaction(SIGINT, &placeholder, nullptr);
    PyRef sig(PyImport_ImportModule("signal"));
    if (!sig) PyErr_Clear();
    sigaction(SIGINT, &saved, nullptr);
  }
  version_ = Py_GetVersion();
  version_ = version_.substr(0, version_.find(' '));
  main_ = Interp::AdoptMain(main_ts_, opts_.path, &err);
  PyEval_SaveThread();
  if (!main_) {
    PyEval_RestoreThread(main_ts_);
    Py_FinalizeEx();
    StartEnded(err, done);  // finalised: kStopped, a later start may try again
    return;
  }
  StartEnded(ErrorInfo(), done);

  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !tasks_.empty(); });
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    if (task) task();
    if (tls_runtime_done) break;
  }
}

bool Runtime::Post(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != State::kRunning && state_ != State::kStarting && state_ != State::kStopping) return false;
  tasks_.push_back(std::move(task));
  cv_.notify_one();
  return true;
}

void Runtime::CreateInterp(InterpSpec spec, std::function<void(std::shared_ptr<Interp>, ErrorInfo)> done) {
  auto task = [this, spec = std::move(spec), done] {
    ErrorInfo err;
    InterpSpec full = spec;
    full.path.insert(full.path.begin(), opts_.path.begin(), opts_.path.end());
    std::shared_ptr<Interp> in;
    {
      BackgroundPriority lower(spec.background);
      in = Interp::CreateSub(full, main_ts_, &err);
    }
    if (in) {
      subs_.push_back(in);
      live_subs_.store(static_cast<int>(subs_.size()));
    }
    done(in, err);
  };
  if (!Post(std::move(task))) {
    done(nullptr, ErrorInfo::Make("ERR_ENGINE_CLOSED", "the Python runtime is not running"));
  }
}

void Runtime::EndLater(std::shared_ptr<Interp> interp) {
  Post([this, interp] {
    if (interp->ended()) return;
    std::string why;
    bool ended = interp->End(2000, &why);
    if (ended) {
      for (auto it = subs_.begin(); it != subs_.end(); ++it) {
        if (*it == interp) {
          subs_.erase(it);
          break;
        }
      }
      live_subs_.store(static_cast<int>(subs_.size()));
    } else {
      Log(LogLevel::kWarn, interp->name(), why);
    }
    interp->NotifyEnd(ended);
  });
}

void Runtime::Register(const std::shared_ptr<Group>& group) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = groups_.begin(); it != groups_.end();) {
    if (it->expired()) it = groups_.erase(it);
    else ++it;
  }
  groups_.push_back(group);
}

void Runtime::WorkerStarted() {
  std::lock_guard<std::mutex> lock(workers_mu_);
  live_workers_++;
}

void Runtime::WorkerExited() {
  std::lock_guard<std::mutex> lock(workers_mu_);
  if (--live_workers_ == 0) workers_cv_.notify_all();
}

void Runtime::Leave() {
  std::lock_guard<std::mutex> lock(mu_);
  if (users_ > 0) users_--;
}

void Runtime::Shutdown(int timeout_ms, std::function<void(bool, std::string)> done) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (state_ == State::kRunning && users_ > 1) {
      users_--;
      lock.unlock();
      done(true, "detached");
      return;
    }
    if (state_ != State::kRunning) {
      bool clean = state_ != State::kAbandoned;
      done(clean, clean ? "" : "Python was left running earlier");
      return;
    }
    state_ = State::kStopping;
    users_ = 0;
    tasks_.push_back([this, timeout_ms, done] { RunShutdown(timeout_ms, done); });
    cv_.notify_one();
  }
}

void Runtime::RunShutdown(int timeout_ms, std::function<void(bool, std::string)> done) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto remaining_ms = [&] {
    return static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
  };
  std::vector<std::shared_ptr<Group>> groups;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& w : groups_)
      if (auto g = w.lock()) groups.push_back(g);
    groups_.clear();
  }
  for (auto& g : groups) g->Close();

  auto workers_gone = [&](Clock::time_point until) {
    std::unique_lock<std::mutex> lock(workers_mu_);
    return workers_cv_.wait_until(lock, until, [&] { return live_workers_ == 0; });
  };
  // Most of the budget goes to letting running jobs finish; then stuck Python code gets a
  // SystemExit raised in it (from a thread state of its own interpreter), and a last wait.
  bool stopped = workers_gone(Clock::now() + std::chrono::milliseconds(timeout_ms * 6 / 10));
  if (!stopped) {
    // Raise SystemExit in stuck workers from short-lived threads of their own interpreters: the
    // runtime thread itself must never wait on a GIL that may never be released.
    for (auto& g : groups) g->InterruptAll(PyExc_SystemExit);
    stopped = workers_gone(deadline);
  }
  std::string report;
  if (!stopped) {
    for (auto& g : groups) {
      for (const auto& b : g->busy_workers()) {
        report += "group " + g->name() + ": a worker has been busy for " + std::to_string(static_cast<int>(b.busy_ms)) +
                  " ms and would not stop; ";
      }
    }
  }
  bool clean = stopped;
  // Drain tasks queued meanwhile (interpreter ends), then end what is left.
  for (;;) {
    std::function<void()> task;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (tasks_.empty()) break;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    if (task && clean) task();
  }
  if (clean) {
    for (auto& in : subs_) {
      std::string why;
      if (!in->End(remaining_ms(), &why)) {
        clean = false;
        report += why + "; ";
      }
    }
  }
  if (clean) {
    PyEval_RestoreThread(main_ts_);
    while (LiveNonDaemonThreads() > 0 && remaining_ms() > 0) {
      Py_BEGIN_ALLOW_THREADS std::this_thread::sleep_for(std::chrono::milliseconds(5));
      Py_END_ALLOW_THREADS
    }
    if (LiveNonDaemonThreads() > 0) {
      clean = false;
      report += "non-daemon Python threads of the main interpreter are still running; ";
      PyEval_SaveThread();
    } else {
      main_.reset();
      for (auto& in : subs_) in->NotifyEnd(true);
      subs_.clear();
      live_subs_.store(0);
      InterpPool::Get().Reset();
      if (Py_FinalizeEx() < 0) report += "errors while flushing Python's buffered data; ";
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = clean ? State::kStopped : State::kAbandoned;
    tasks_.clear();
  }
  tls_runtime_done = true;
  if (!clean) report = "Python was not finalised: " + report;
  done(clean, report);
}

}  // namespace pyhost
