// An application group: one interpreter (main or sub) and the worker threads that run its jobs.
// The interpreter and the workers start lazily, on the first job. Submitting never waits on a
// GIL or on Python.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "python/host_call.h"
#include "python/interp.h"
#include "python/job.h"

namespace pyhost {

class Group;

// One worker thread's view while it runs a job.
class Worker {
 public:
  Group& group() const { return *group_; }
  Interp& interp() const { return *interp_; }
  PyThreadState* thread_state() const { return ts_; }
  unsigned long ident() const { return ident_; }
  // The running job's hard interrupts stop (it has ended as far as its code is concerned); a
  // pending one is dropped. Returns how the job was interrupted, if it was. GIL held.
  InterruptKind StopInterrupts();
  // The current thread's worker, or nullptr off worker threads.
  static Worker* Current();
  // Called by a job just before it reports its outcome, when what remains of it is cleanup: a
  // job queued from now on is taken by this worker when it returns, so none is woken for it.
  void OutcomeSending();

 private:
  friend class Group;
  Group* group_ = nullptr;
  Interp* interp_ = nullptr;
  PyThreadState* ts_ = nullptr;
  unsigned long ident_ = 0;          // PyThread_get_thread_ident() of the thread
  std::chrono::steady_clock::time_point job_started_{};
  bool busy_ = false;
  uint64_t running_seq_ = 0;  // job running now (GIL held to read or write)
  bool interrupted_ = false;   // an async exception was aimed at the job (GIL held)
  bool outcome_sending_ = false;  // OutcomeSending() was called for the running job (this thread only)
  bool pooled_ = false;           // one of the group's own threads (not a RunHere caller)
};

struct GroupOptions {
  std::string name;
  InterpKind kind = InterpKind::kSharedGil;
  bool strict_extensions = false;
  // Worker threads. 0: the group has none; callers run its jobs with RunHere (the daemon's
  // serving threads do, so a request never changes threads).
  int threads = 5;
  std::vector<std::string> path;  // this group's own sys.path entries (first), after the engine's
  // Start in this ready interpreter (from the warm pool) instead of creating one.
  std::shared_ptr<Interp> adopt;
  // Functions the host gave this group (pyhost.host.name): null for none.
  std::shared_ptr<HostChannel> host;
  // After a job that asks for it (Job::spin_after), an idle worker polls this long (µs) for the
  // next job before it sleeps (group.cc, SpinForWork); 0: never.
  int spin_micros = 0;
};

// Logs `text` (trailing newlines dropped) at error level for the group whose job this thread runs.
void LogGroupError(std::string text);

// A snapshot of a busy worker, for timeouts and stack dumps.
struct BusyWorker {
  unsigned long ident;
  double busy_ms;
};

class Group : public std::enable_shared_from_this<Group> {
  friend class Worker;

 public:
  static std::shared_ptr<Group> Create(GroupOptions opts);
  ~Group();

  // Queues a job; it runs on a worker, or is aborted if the group is closed or failed to start.
  // Returns the job's sequence number (for Interrupt). With `wake` false no worker is woken:
  // the caller calls Wake() once for a batch of jobs.
  uint64_t Submit(Job* job, bool wake = true);
  // Wakes a worker if jobs wait and none is running (see Submit).
  void Wake();
  // Raises `exc` (a built-in exception type) in the worker running job `seq`, if it still runs
  // it; `done(hit)` is called from another thread, or never if the GIL is never released.
  void Interrupt(uint64_t seq, PyObject* exc, std::function<void(bool)> done);
  // A hard interrupt (python/deadlines.h) of the worker running job `seq`, if it still runs it:
  // raises this interpreter's _pyhost.CallTimeout (or Cancelled) in its thread and calls the
  // interpreter's wake hook. Returns false if no visit could start; else `done` is called on the
  // visiting thread once it is over (never, if the GIL is never released).
  bool InterruptHard(uint64_t seq, bool cancelled, std::function<void()> done);
  // Raises `exc` in every busy worker, RunHere's included (shutdown), from a visiting thread.
  void InterruptAll(PyObject* exc);
  // Runs a job on the calling thread (no GIL held), with this thread's own thread state of the
  // group's interpreter; starts the interpreter first if needed (waiting for it).
  void RunHere(Job* job);
  // Before a thread that used RunHere exits: drops its thread states.
  static void ReleaseThreadStates();
  // The calling thread's published Python thread state: RunHere stores the state it runs a job
  // with while the job runs (null otherwise). Another thread may pass the slot to
  // SlotHoldsGil to learn whether this thread is in Python with the GIL.
  static const void* ThisThreadSlot();
  // Whether the thread that published `slot` holds its interpreter's GIL now (a snapshot). True
  // where the Python cannot say (3.12): callers then assume the worst. False when it runs no job.
  static bool SlotHoldsGil(const void* slot);
  // From now on the group runs in the main interpreter (the %{GLOBAL} fallback). Jobs already
  // running finish where they are; its sub-interpreter ends once its workers have moved.
  void Rehome();
  // Queued jobs are aborted; workers exit after their current job.
  void Close();
  // Close, then `cb(true)` once the sub-interpreter has ended (at once for %{GLOBAL}), or
  // `cb(false)` if it could not be ended. Never called if a worker never stops.
  void CloseAndWait(std::function<void(bool)> cb);

  const std::string& name() const { return opts_.name; }
  const std::shared_ptr<HostChannel>& host() const { return opts_.host; }
  InterpKind kind() const;
  bool closed() const;
  size_t queued() const;
  // Spins that ended by timeout (the next call came later than spin_micros, or never).
  uint64_t spin_misses() const { return spin_misses_.load(std::memory_order_relaxed); }
  std::vector<BusyWorker> busy_workers() const;
  // The interpreter in use (null before the group has started).
  std::shared_ptr<Interp> interp() const;

  // Opaque host data: the Node binding keeps its completion port here (for log routing).
  void set_owner(void* owner) { owner_ = owner; }
  void* owner() const { return owner_; }

 private:
  explicit Group(GroupOptions opts) : opts_(std::move(opts)) {}
  void StartLocked();
  void OnInterp(std::shared_ptr<Interp> interp, ErrorInfo err);
  std::shared_ptr<Interp> EnsureStarted(ErrorInfo* err);
  void SpawnWorkersLocked();
  // The interpreter's threads that are not workers reach this group's host functions.
  void ShareHostLocked();
  void WorkerMain(Worker* w, std::shared_ptr<Interp> interp, int gen);
  void RunJob(Worker* w, Job* job);
  // Starts the job's hard deadline, if it has one (python/deadlines.h).
  void ArmDeadline(Job* job);
  void AbortAllLocked(const ErrorInfo& why, std::deque<Job*>* out);

  GroupOptions opts_;
  void* owner_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job*> queue_;
  enum class State { kIdle, kStarting, kRunning, kFailed, kClosed } state_ = State::kIdle;
  ErrorInfo failure_;
  std::shared_ptr<Interp> interp_;
  int generation_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;
  int inline_busy_ = 0;
  // RunHere's workers while they run a job: InterruptAll reaches them too.
  std::vector<Worker*> inline_workers_;
  uint64_t next_seq_ = 0;
  // Wake-up policy state (group.cc): workers running a batch of jobs now, workers waiting, the
  // one waiting worker that watches for a stalled batch, and when a job was last taken.
  int hot_ = 0;
  int idle_ = 0;
  bool standby_ = false;
  std::chrono::steady_clock::time_point last_pick_{};
  // Workers whose job has reported its outcome and is ending (Worker::OutcomeSending).
  std::atomic<int> finishing_{0};
  // Spin-before-sleep state (group.cc, SpinForWork): a worker of this group spins for the next job;
  // bumped by every queued job and state change (what a spinner polls without the lock); how
  // many idle periods to skip spinning after misses, and the current skip length.
  bool spinner_ = false;
  std::atomic<uint64_t> work_signal_{0};
  std::atomic<uint64_t> spin_misses_{0};
  int spin_skip_ = 0;
  int spin_backoff_ = 0;
  // Takes the process's one spin (lock held): true if this worker may spin now.
  bool TakeSpinLocked();
  // Polls work_signal_ for a change from `seen` (read under the lock when the spin was taken) for
  // up to spin_micros without the GIL or the lock, then gives the spin back; returns the job it
  // took (hot), or null.
  Job* SpinForWork(Worker* w, int gen, uint64_t seen);
  // Wakes a worker for queued jobs, or a standby behind running ones (lock held).
  void WakeLocked();
  // Takes the next job (lock held), updating the wake-up policy state.
  Job* PickLocked(Worker* w);
  // A waiting or spinning worker takes the next job (lock held): picks it, counts the worker hot,
  // and wakes a standby if more jobs wait.
  Job* StartRunningLocked(Worker* w);
};

}  // namespace pyhost
