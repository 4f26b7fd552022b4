#include "python/group.h"

#include <pythread.h>

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>

#include "python/deadlines.h"
#include "python/inspect.h"
#include "python/log.h"
#include "python/pyhost_module.h"
#include "python/pyref.h"
#include "python/runtime.h"

namespace pyhost {
namespace {
thread_local Worker* tls_worker = nullptr;
// The thread state RunHere runs a job with, while it runs (Group::ThisThreadSlot).
thread_local std::atomic<PyThreadState*> tls_published_state{nullptr};

// Wake-up policy: a worker that is running jobs takes the next one when it finishes, holding
// the GIL, so a new job does not wake another worker (which could only wait for the same GIL:
// measured, 5 workers each woken per request ran hello world at 10k requests/s, 1 worker at
// 17k). While jobs wait behind running ones, one waiting worker stands by: when the running ones
// take no job for this long (blocked in I/O, or a long job), it takes the next. Nobody stands by
// while the queue is empty: a caller that awaits each result would otherwise wake two threads per
// call (measured: eval("1") round trip 22.5 -> 20.3 µs median with 5 workers).
constexpr auto kStall = std::chrono::microseconds(1000);

// Spin before sleeping: after a job that asks for it (Job::spin_after: a call from JS), a worker
// whose group fell idle polls for the next job, without the GIL, for up to spin_micros before it
// waits on the condition variable. A caller that awaits each result submits its next call a few
// µs after the result reaches it; waking a sleeping thread costs a futex call on the submitting
// (event-loop) thread and a scheduler wake-up here (measured on this 2-core VM: a bare C++ thread
// round trip 26 µs with a sleeping worker, 12.5 µs with a spinning one, bench/micro/
// thread-round-trip.cc; eval("1") median 24-25 -> 20-22 µs, bench/README.md "Call path").
// Only one worker in the process spins at a time (a second spinner would take a core from the
// event loop on a 2-core machine), and a group whose spins find nothing backs off: after a miss
// it skips the next 1, 2, 4 ... 64 chances, so an idle or bursty group wastes at most one window
// per 64 idle periods.
constexpr int kMaxSpinBackoff = 64;
std::atomic<bool> spin_token{false};

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Thread states a RunHere thread holds, one per interpreter it has run jobs in.
struct InlineStates {
  std::vector<std::pair<std::shared_ptr<Interp>, PyThreadState*>> states;

  PyThreadState* For(const std::shared_ptr<Interp>& interp) {
    // Drop states of interpreters that were retired (re-homed groups), so they can end.
    for (auto it = states.begin(); it != states.end();) {
      if (it->first->retired() && it->first != interp) {
        Drop(*it);
        it = states.erase(it);
      } else if (it->first == interp) {
        return it->second;
      } else {
        ++it;
      }
    }
    interp->Attach();
    PyThreadState* ts = PyThreadState_New(interp->state());
    states.emplace_back(interp, ts);
    return ts;
  }
  static void Drop(std::pair<std::shared_ptr<Interp>, PyThreadState*>& entry) {
    PyEval_RestoreThread(entry.second);
    PyThreadState_Clear(entry.second);
    PyThreadState_DeleteCurrent();
    entry.first->Detach();
  }
};
thread_local InlineStates tls_inline;
}  // namespace

void Group::ReleaseThreadStates() {
  for (auto& e : tls_inline.states) InlineStates::Drop(e);
  tls_inline.states.clear();
}

std::shared_ptr<Interp> Group::EnsureStarted(ErrorInfo* err) {
  std::unique_lock<std::mutex> lock(mu_);
  if (state_ == State::kIdle) StartLocked();
  cv_.wait(lock, [&] { return state_ != State::kStarting; });
  if (state_ == State::kRunning) return interp_;
  *err = state_ == State::kClosed ? ErrorInfo::Make("ERR_GROUP_CLOSED", "application group " + opts_.name + " is closed")
                                  : failure_;
  return nullptr;
}

void Group::RunHere(Job* job) {
  ErrorInfo err;
  std::shared_ptr<Interp> interp = EnsureStarted(&err);
  if (!interp) {
    job->Abort(err);
    return;
  }
  Worker w;
  w.group_ = this;
  w.interp_ = interp.get();
  w.ts_ = tls_inline.For(interp);
  w.ident_ = PyThread_get_thread_ident();
  w.busy_ = true;
  w.job_started_ = std::chrono::steady_clock::now();
  Worker* saved = tls_worker;
  tls_worker = &w;
  {
    std::lock_guard<std::mutex> lock(mu_);
    inline_busy_++;
    inline_workers_.push_back(&w);
  }
  tls_published_state.store(w.ts_, std::memory_order_release);
  PyEval_RestoreThread(w.ts_);
  job->Run(w);
  PyEval_SaveThread();
  tls_published_state.store(nullptr, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mu_);
    inline_busy_--;
    inline_workers_.erase(std::find(inline_workers_.begin(), inline_workers_.end(), &w));
  }
  tls_worker = saved;
}

Worker* Worker::Current() { return tls_worker; }

const void* Group::ThisThreadSlot() { return &tls_published_state; }

bool Group::SlotHoldsGil(const void* slot) {
  PyThreadState* ts = static_cast<const std::atomic<PyThreadState*>*>(slot)->load(std::memory_order_acquire);
  if (!ts) return false;
#if PY_VERSION_HEX >= 0x030D0000
  // 3.13 says per thread state: attached (holding its interpreter's GIL) or not. The state is
  // only freed by its own thread after it has left RunHere (the slot is null by then), when its
  // interpreter was retired; a read racing that is of a value that no longer matters.
  return __atomic_load_n(&ts->state, __ATOMIC_RELAXED) == 1;  // _Py_THREAD_ATTACHED
#elif PY_VERSION_HEX < 0x030C0000
  // Up to 3.11 the runtime records which thread state holds the (one) GIL.
  return _PyThreadState_UncheckedGet() == ts;
#else
  return true;  // 3.12 keeps it thread-local: unknown
#endif
}

void LogGroupError(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  Worker* w = Worker::Current();
  Log(LogLevel::kError, w ? w->group().name() : "?", text, w ? w->group().owner() : nullptr);
}

InterruptKind Worker::StopInterrupts() {
  InterruptKind kind = running_seq_ ? Deadlines::Get().Disarm(group_, running_seq_) : InterruptKind::kNone;
  PyThreadState_SetAsyncExc(ident_, nullptr);
  return kind;
}

std::shared_ptr<Group> Group::Create(GroupOptions opts) {
  if (opts.threads < 0) opts.threads = 0;  // 0: jobs run with RunHere only (the daemon)
  std::shared_ptr<Group> g(new Group(std::move(opts)));
  Runtime::Get().Register(g);
  return g;
}

Group::~Group() = default;

InterpKind Group::kind() const {
  std::lock_guard<std::mutex> lock(mu_);
  return interp_ ? interp_->kind() : opts_.kind;
}

bool Group::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_ == State::kClosed;
}

size_t Group::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

std::shared_ptr<Interp> Group::interp() const {
  std::lock_guard<std::mutex> lock(mu_);
  return interp_;
}

std::vector<BusyWorker> Group::busy_workers() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<BusyWorker> out;
  auto now = std::chrono::steady_clock::now();
  for (const auto& w : workers_) {
    if (w->busy_) {
      out.push_back({w->ident_, std::chrono::duration<double, std::milli>(now - w->job_started_).count()});
    }
  }
  return out;
}

uint64_t Group::Submit(Job* job, bool wake) {
  ErrorInfo refuse;
  uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seq = job->seq = ++next_seq_;
    switch (state_) {
      case State::kClosed:
        refuse = ErrorInfo::Make("ERR_GROUP_CLOSED", "application group " + opts_.name + " is closed");
        break;
      case State::kFailed:
        refuse = failure_;
        break;
      default:
        queue_.push_back(job);
        work_signal_.fetch_add(1, std::memory_order_release);
        if (state_ == State::kIdle) StartLocked();
        if (wake) WakeLocked();
        return seq;
    }
  }
  job->Abort(refuse);
  return seq;
}

Job* Group::PickLocked(Worker* w) {
  Job* job = queue_.front();
  queue_.pop_front();
  w->busy_ = true;
  w->job_started_ = last_pick_ = std::chrono::steady_clock::now();
  return job;
}

Job* Group::StartRunningLocked(Worker* w) {
  Job* job = PickLocked(w);
  hot_++;
  // Jobs still wait: someone must stand by while this one runs (see kStall).
  if (!queue_.empty() && !standby_ && idle_ > 0) cv_.notify_one();
  return job;
}

void Group::Wake() {
  std::lock_guard<std::mutex> lock(mu_);
  WakeLocked();
}

void Group::WakeLocked() {
  if (queue_.empty()) return;
  // A worker whose job is ending takes the job when it returns (it checks the queue under this
  // lock); so does a spinning one (it re-checks the queue under this lock before it sleeps). A
  // caller that awaits each result submits its next call exactly then: a standby woken for it
  // would cost a context switch, and take the job from the worker that is still warm.
  if (finishing_.load(std::memory_order_relaxed) > 0 || (hot_ == 0 && spinner_)) return;
  // A worker to run the job; or, behind running jobs, one to stand by (kStall).
  if (hot_ == 0 || (!standby_ && idle_ > 0)) cv_.notify_one();
}

void Worker::OutcomeSending() {
  if (!pooled_ || outcome_sending_) return;  // a RunHere caller takes no next job
  outcome_sending_ = true;
  group_->finishing_.fetch_add(1, std::memory_order_relaxed);
}

InterruptKind Job::EndDeadline() {
  if (!deadline_group_) return InterruptKind::kNone;
  Group* g = deadline_group_;
  deadline_group_ = nullptr;
  return Deadlines::Get().Disarm(g, seq);
}

void Group::ArmDeadline(Job* job) {
  if (!job->has_deadline()) return;
  job->deadline_group_ = this;
  Deadlines::Get().Arm(shared_from_this(), job);
}

void Group::RunJob(Worker* w, Job* job) {
  uint64_t seq = w->running_seq_ = job->seq;
  bool armed = job->has_deadline();
  ArmDeadline(job);
  job->Run(*w);
  // `job` may be gone now (it completes itself; an armed job disarmed itself first).
  if (armed) Deadlines::Get().Disarm(this, seq);
  w->running_seq_ = 0;
  if (w->interrupted_) {
    // An interrupt that arrived as the job ended must not hit the next one.
    w->interrupted_ = false;
    PyThreadState_SetAsyncExc(w->ident_, nullptr);
  }
}

void Group::InterruptAll(PyObject* exc) {
  auto self = shared_from_this();
  VisitInterp(interp(), [self, exc] {
    std::lock_guard<std::mutex> lock(self->mu_);
    auto raise = [exc](Worker* w) {
      if (w->busy_ && w->ts_) {
        RaiseInThread(w->ident_, exc);
        w->interrupted_ = true;
      }
    };
    for (auto& w : self->workers_) raise(w.get());
    for (Worker* w : self->inline_workers_) raise(w);
  });
}

void Group::Interrupt(uint64_t seq, PyObject* exc, std::function<void(bool)> done) {
  auto self = shared_from_this();
  auto interp = this->interp();
  bool visiting = VisitInterp(interp, [self, seq, exc, done] {
    // With the interpreter's GIL held, no worker can switch jobs under us.
    bool hit = false;
    std::lock_guard<std::mutex> lock(self->mu_);
    for (auto& w : self->workers_) {
      if (w->running_seq_ == seq && w->ts_) {
        hit = RaiseInThread(w->ident_, exc);
        w->interrupted_ = true;
      }
    }
    done(hit);
  });
  if (!visiting) done(false);
}

bool Group::InterruptHard(uint64_t seq, bool cancelled, std::function<void()> done) {
  auto self = shared_from_this();
  auto interp = this->interp();
  return VisitInterp(interp, [self, interp, seq, cancelled, done] {
    unsigned long ident = 0;
    // Disarmed meanwhile (the job ended, or stopped its interrupts): nothing to raise.
    if (Deadlines::Get().Armed(self.get(), seq)) {
      std::lock_guard<std::mutex> lock(self->mu_);
      for (auto& w : self->workers_) {
        if (w->running_seq_ == seq && w->ts_) {
          ident = w->ident_;
          w->interrupted_ = true;
        }
      }
    }
    if (ident) {
      PyObject* module = interp->module();
      RaiseInThread(ident, InterruptType(module, cancelled));
      if (PyObject* hook = GetModuleState(module)->wake_hook) {
        PyRef r(PyObject_CallFunction(hook, "k", ident));
        if (!r) PyErr_Clear();
      }
    }
    done();
  });
}

void Group::StartLocked() {
  state_ = State::kStarting;
  if (opts_.kind == InterpKind::kMain) {
    auto self = shared_from_this();
    // The main interpreter exists while the runtime runs; read it on the runtime thread.
    if (!Runtime::Get().Post([self] { self->OnInterp(Runtime::Get().main_interp(), ErrorInfo()); })) {
      state_ = State::kFailed;
      failure_ = ErrorInfo::Make("ERR_ENGINE_CLOSED", "the Python runtime is not running");
    }
    return;
  }
  if (opts_.adopt) {
    // A warm interpreter: no creation, workers start at once.
    interp_ = std::move(opts_.adopt);
    interp_->set_name(opts_.name);
    state_ = State::kRunning;
    ShareHostLocked();
    SpawnWorkersLocked();
    cv_.notify_all();
    return;
  }
  InterpSpec spec;
  spec.name = opts_.name;
  spec.kind = opts_.kind;
  spec.strict_extensions = opts_.strict_extensions;  // the host decided (an own GIL implies strict)
  spec.path = opts_.path;
  auto self = shared_from_this();
  Runtime::Get().CreateInterp(spec, [self](std::shared_ptr<Interp> in, ErrorInfo err) { self->OnInterp(in, err); });
}

void Group::OnInterp(std::shared_ptr<Interp> interp, ErrorInfo err) {
  std::deque<Job*> aborted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!interp) {
      state_ = State::kFailed;
      failure_ = err.empty() ? ErrorInfo::Make("ERR_INTERPRETER_START", "interpreter could not start") : err;
      AbortAllLocked(failure_, &aborted);
    } else if (state_ == State::kClosed) {
      interp->Retire();
    } else {
      interp_ = interp;
      state_ = State::kRunning;
      ShareHostLocked();
      SpawnWorkersLocked();
    }
    cv_.notify_all();  // RunHere callers wait for the start
  }
  ErrorInfo why = failure_;
  for (Job* j : aborted) j->Abort(why);
}

void Group::ShareHostLocked() {
  // The main interpreter serves many groups: its threads get %{GLOBAL}'s functions only.
  if (opts_.host && (interp_->kind() != InterpKind::kMain || opts_.name == "%{GLOBAL}")) interp_->set_host(opts_.host);
}

void Group::SpawnWorkersLocked() {
  for (int i = 0; i < opts_.threads; i++) {
    workers_.push_back(std::make_unique<Worker>());
    Worker* w = workers_.back().get();
    w->group_ = this;
    w->pooled_ = true;
    // Attached here, not in the thread: the interpreter must not end (the group closing at
    // once) while workers are still starting.
    interp_->Attach();
    w->interp_ = interp_.get();
    Runtime::Get().WorkerStarted();
    try {
      std::thread([self = shared_from_this(), w, interp = interp_, gen = generation_] { self->WorkerMain(w, interp, gen); }).detach();
    } catch (const std::system_error& e) {
      // No thread to be had (address space or thread limits): one worker less, and the group
      // fails if it has none, rather than the process aborting.
      workers_.pop_back();
      interp_->Detach();
      Runtime::Get().WorkerExited();
      Log(LogLevel::kError, opts_.name, std::string("cannot start a worker thread: ") + e.what());
      if (workers_.empty()) {
        state_ = State::kFailed;
        failure_ = ErrorInfo::Make("ERR_GROUP_START", std::string("application group ") + opts_.name +
                                                          ": cannot start a worker thread: " + e.what());
        std::deque<Job*> aborted;
        AbortAllLocked(failure_, &aborted);
        // Aborted outside the lock would be cleaner; jobs' Abort only posts, so it is safe here.
        for (Job* j : aborted) j->Abort(failure_);
      }
      return;
    }
  }
}

void Group::AbortAllLocked(const ErrorInfo& why, std::deque<Job*>* out) {
  out->swap(queue_);
}

void Group::WorkerMain(Worker* w, std::shared_ptr<Interp> interp, int gen) {
  tls_worker = w;
  w->ts_ = PyThreadState_New(interp->state());
  w->ident_ = PyThread_get_thread_ident();

  bool spin = false;
  uint64_t spin_from = 0;  // work_signal_ when the spin was taken (under the lock)
  for (;;) {
    Job* job = nullptr;
    std::shared_ptr<Interp> next;
    if (spin) {
      spin = false;
      job = SpinForWork(w, gen, spin_from);
    }
    if (!job) {
      std::unique_lock<std::mutex> lock(mu_);
      bool standby = false;
      idle_++;
      for (;;) {
        if (state_ == State::kClosed || generation_ != gen) break;
        if (!queue_.empty() && (hot_ == 0 || std::chrono::steady_clock::now() - last_pick_ >= kStall)) break;
        if (hot_ > 0 && !queue_.empty() && (standby || !standby_)) {
          standby = standby_ = true;
          cv_.wait_for(lock, kStall);
        } else {
          if (standby) standby = standby_ = false;
          cv_.wait(lock);
        }
      }
      if (standby) standby_ = false;
      idle_--;
      if (generation_ != gen) {
        next = interp_;
        gen = generation_;
      } else if (!queue_.empty()) {
        job = StartRunningLocked(w);
      } else {
        break;  // closed and drained
      }
    }
    if (next) {
      // Re-homed: drop the old interpreter's thread state, take one of the new interpreter.
      PyEval_RestoreThread(w->ts_);
      PyThreadState_Clear(w->ts_);
      PyThreadState_DeleteCurrent();
      interp->Detach();
      interp = next;
      interp->Attach();
      w->interp_ = interp.get();
      w->ts_ = PyThreadState_New(interp->state());
      continue;
    }
    PyEval_RestoreThread(w->ts_);
    while (job) {
      bool spin_after = job->spin_after;  // `job` may be gone after it runs
      RunJob(w, job);
      job = nullptr;
      // Take the next job while still holding the GIL: under load this saves a GIL hand-off
      // and a wake-up per job.
      std::lock_guard<std::mutex> lock(mu_);
      bool was_finishing = w->outcome_sending_;
      if (was_finishing) {
        w->outcome_sending_ = false;
        finishing_.fetch_sub(1, std::memory_order_relaxed);
      }
      if (!queue_.empty() && generation_ == gen && state_ != State::kClosed) {
        job = PickLocked(w);
        // More wait behind it: someone must stand by. Only after a job that sent its outcome
        // early: a Wake() for those jobs relied on this worker then (see WakeLocked); otherwise
        // the Wake() saw this worker hot and woke the standby itself.
        if (was_finishing && !queue_.empty() && !standby_ && idle_ > 0) cv_.notify_one();
      } else {
        w->busy_ = false;
        hot_--;
        // Jobs that arrived while this worker was hot and could not take them: wake a worker.
        if (!queue_.empty() && hot_ == 0) cv_.notify_one();
        // The group fell idle: this worker may spin for the next job (see SpinForWork).
        if (spin_after && queue_.empty() && hot_ == 0) {
          spin = spinner_ = TakeSpinLocked();
          // Read here, not when the poll starts: a job queued in between (while this worker
          // drops the GIL) must count as new, or it would wait out the whole spin.
          spin_from = work_signal_.load(std::memory_order_relaxed);
        }
      }
    }
    PyEval_SaveThread();
  }
  PyEval_RestoreThread(w->ts_);
  PyThreadState_Clear(w->ts_);
  PyThreadState_DeleteCurrent();
  w->ts_ = nullptr;
  interp->Detach();
  tls_worker = nullptr;
  Runtime::Get().WorkerExited();
}

bool Group::TakeSpinLocked() {
  if (spinner_ || opts_.spin_micros <= 0 || state_ != State::kRunning) return false;
  if (spin_skip_ > 0) {
    spin_skip_--;
    return false;
  }
  bool expected = false;
  return spin_token.compare_exchange_strong(expected, true, std::memory_order_acquire);
}

Job* Group::SpinForWork(Worker* w, int gen, uint64_t seen) {
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(opts_.spin_micros);
  bool found = false;
  for (int i = 0;; i++) {
    if (work_signal_.load(std::memory_order_acquire) != seen) {
      found = true;
      break;
    }
    CpuRelax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() >= until) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  spin_token.store(false, std::memory_order_release);
  // A job queued as the time ran out (its Submit held this lock) came within the window: a hit.
  found = found || work_signal_.load(std::memory_order_relaxed) != seen;
  if (!found) spin_misses_++;
  // A miss backs off (1, 2, 4 ... kMaxSpinBackoff chances skipped); a hit resets.
  if (found) {
    spin_backoff_ = 0;
  } else {
    spin_backoff_ = spin_backoff_ == 0 ? 1 : std::min(spin_backoff_ * 2, kMaxSpinBackoff);
    spin_skip_ = spin_backoff_;
  }
  // The job is taken in the same critical section that ends the spin: a Wake() for it that
  // comes after this finds the queue empty, one before found spinner_ set (no worker woken).
  spinner_ = false;
  if (queue_.empty() || hot_ != 0 || state_ == State::kClosed || generation_ != gen) return nullptr;
  return StartRunningLocked(w);
}

void Group::Rehome() {
  std::shared_ptr<Interp> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ != State::kRunning || !interp_ || interp_->kind() == InterpKind::kMain) return;
    old = interp_;
    interp_ = Runtime::Get().main_interp();
    generation_++;
    work_signal_.fetch_add(1, std::memory_order_release);
    cv_.notify_all();
  }
  Log(LogLevel::kDebug, opts_.name, "group moved to the main interpreter (%{GLOBAL})", owner_);
  old->Retire();
}

void Group::CloseAndWait(std::function<void(bool)> cb) {
  std::shared_ptr<Interp> interp;
  {
    std::lock_guard<std::mutex> lock(mu_);
    interp = interp_;
  }
  Close();
  if (!interp || interp->kind() == InterpKind::kMain) {
    cb(true);
    return;
  }
  interp->WhenEnded(std::move(cb));
}

void Group::Close() {
  std::deque<Job*> aborted;
  std::shared_ptr<Interp> interp;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_ == State::kClosed) return;
    bool started = state_ == State::kRunning;
    state_ = State::kClosed;
    work_signal_.fetch_add(1, std::memory_order_release);
    AbortAllLocked(ErrorInfo(), &aborted);
    cv_.notify_all();
    if (started) interp = interp_;
  }
  ErrorInfo why = ErrorInfo::Make("ERR_GROUP_CLOSED", "application group " + opts_.name + " was closed");
  for (Job* j : aborted) j->Abort(why);
  if (interp) interp->Retire();
}

}  // namespace pyhost
