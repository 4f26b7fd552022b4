// The process-wide CPython runtime: initialised and finalised on one dedicated thread, which
// also creates and ends every sub-interpreter (serialised, as CPython requires).
#pragma once
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "python/error_info.h"
#include "python/interp.h"

namespace pyhost {

class Group;

struct RuntimeOptions {
  std::string program;             // sys.executable: the python (or venv python) the engine runs as
  std::string home;                // PYTHONHOME for a plain prefix; empty for the default
  std::vector<std::string> path;   // sys.path entries put first, in every interpreter
  int optimize = 0;                // -O level
  std::string allocator;           // "malloc" or "pymalloc"; empty: CPython's default (PYTHONMALLOC)
  std::string settings;            // the starter's description of these options (JSON), for later users
};

class Runtime {
 public:
  static Runtime& Get();

  // Starts CPython on a new runtime thread, or, when it runs already (started by another Node
  // thread), attaches one more user to it. `done(err, attached)` runs on the runtime thread, or
  // at once on the caller's when attaching; err is empty on success. Every user leaves through
  // Shutdown (the last one finalises) or Leave.
  void Start(const RuntimeOptions& opts, std::function<void(ErrorInfo, bool attached)> done);
  bool running() const;
  std::string version() const { return version_; }
  const RuntimeOptions& options() const { return opts_; }

  // Runs `task` on the runtime thread (no GIL held). Returns false when not running.
  bool Post(std::function<void()> task);

  // Runtime thread only: the main interpreter and its owner thread state.
  std::shared_ptr<Interp> main_interp() const { return main_; }
  PyThreadState* main_ts() const { return main_ts_; }

  // Creates a sub-interpreter on the runtime thread; `done` runs there.
  void CreateInterp(InterpSpec spec, std::function<void(std::shared_ptr<Interp>, ErrorInfo)> done);
  // Ends a retired interpreter once it has no attached threads (any thread).
  void EndLater(std::shared_ptr<Interp> interp);

  // Sub-interpreters alive now (created and not yet ended).
  int live_interpreters() const { return live_subs_.load(); }

  // Groups register so shutdown can stop their workers.
  void Register(const std::shared_ptr<Group>& group);

  // Threads of the worker pools, counted so shutdown can wait for them with a bound.
  void WorkerStarted();
  void WorkerExited();

  // Stops every group, ends sub-interpreters and finalises CPython within `timeout_ms`.
  // `done(finalized, report)` runs on the runtime thread (or the caller's, if not running).
  // When a thread will not stop, finalisation is skipped rather than hanging the process.
  // With other users attached, only this user leaves: done(true, "detached") at once.
  void Shutdown(int timeout_ms, std::function<void(bool, std::string)> done);
  // A user leaves without finalising, even if it was the last (a Node thread torn down: no one
  // can wait for a shutdown there). Python keeps running for the next Start to attach to.
  void Leave();

 private:
  Runtime() = default;
  void ThreadMain(std::function<void(ErrorInfo, bool)> done);
  // Runtime thread: the start ended (err empty: running); tells the starter and those waiting to attach.
  void StartEnded(const ErrorInfo& err, std::function<void(ErrorInfo, bool)>& done);
  bool PreInitialize(ErrorInfo* err);
  bool InitPython(ErrorInfo* err);
  void RunShutdown(int timeout_ms, std::function<void(bool, std::string)> done);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  enum class State { kStopped, kStarting, kRunning, kStopping, kAbandoned } state_ = State::kStopped;
  std::vector<std::function<void(ErrorInfo, bool)>> attaching_;  // Start calls waiting for kStarting to end
  int users_ = 0;  // Node environments attached (under mu_)
  std::thread thread_;
  RuntimeOptions opts_;
  std::string version_;
  std::shared_ptr<Interp> main_;
  PyThreadState* main_ts_ = nullptr;
  std::vector<std::shared_ptr<Interp>> subs_;   // live sub-interpreters (runtime thread only)
  std::atomic<int> live_subs_{0};
  std::vector<std::weak_ptr<Group>> groups_;    // under mu_
  std::mutex workers_mu_;
  std::condition_variable workers_cv_;
  int live_workers_ = 0;
};

}  // namespace pyhost
