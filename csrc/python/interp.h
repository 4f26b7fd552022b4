// An interpreter pyhost runs code in: the main interpreter (%{GLOBAL}) or a sub-interpreter with
// a shared or its own GIL. Created and ended only on the runtime thread, serialised.
#pragma once
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "python/error_info.h"

namespace pyhost {

class HostChannel;

enum class InterpKind { kMain, kSharedGil, kOwnGil };

struct InterpSpec {
  std::string name;  // the application group it serves, for logs
  InterpKind kind = InterpKind::kSharedGil;
  bool strict_extensions = false;  // refuse single-phase init extension modules
  std::vector<std::string> path;   // sys.path entries, first
  std::string prelude;             // Python run once after the bootstrap (warm pools)
  bool background = false;         // created ahead of need: yield the CPU to request work
};

class Interp : public std::enable_shared_from_this<Interp> {
 public:
  ~Interp();
  // Runtime thread only. Main: the caller holds the main GIL with `main_ts` current.
  static std::shared_ptr<Interp> AdoptMain(PyThreadState* main_ts, const std::vector<std::string>& path, ErrorInfo* err);
  // Runtime thread only, no GIL held.
  static std::shared_ptr<Interp> CreateSub(const InterpSpec& spec, PyThreadState* main_ts, ErrorInfo* err);

  const std::string& name() const { return name_; }
  // A pooled interpreter takes the name of the group that adopts it (before any use).
  void set_name(const std::string& name) { name_ = name; }
  InterpKind kind() const { return kind_; }
  PyInterpreterState* state() const { return state_; }
  // The thread state it was created with; only the runtime thread uses it.
  PyThreadState* owner_ts() const { return owner_ts_; }
  // This interpreter's _pyhost module (GIL held to use it).
  PyObject* module() const { return module_; }

  // Threads that hold a thread state of this interpreter announce themselves, so it is ended
  // only once none is left.
  void Attach();
  void Detach();
  int attached() const { return attached_.load(); }
  // No new work: once the last attached thread detaches, the runtime ends it.
  void Retire();
  bool retired() const { return retired_.load(); }

  // Runtime thread only, no GIL held. Ends a sub-interpreter if no other thread state of it is
  // alive (waiting up to `wait_ms` for Python threads to finish); returns false when it had to be
  // left running (it is then leaked, and a report is in *why).
  bool End(int wait_ms, std::string* why);
  bool ended() const { return ended_.load(); }
  // `cb(true)` once the interpreter has ended, `cb(false)` if ending it had to be given up.
  void WhenEnded(std::function<void(bool)> cb);
  void NotifyEnd(bool ended);

  // Counts thread states of this interpreter other than the owner's (its GIL held).
  int OtherThreadStates() const;

  // The host functions of the group this interpreter serves, for threads its code starts
  // (workers use their group's); null for none. Any thread.
  std::shared_ptr<HostChannel> host() const {
    std::lock_guard<std::mutex> lock(host_mu_);
    return host_;
  }
  void set_host(std::shared_ptr<HostChannel> host) {
    std::lock_guard<std::mutex> lock(host_mu_);
    host_ = std::move(host);
  }

 private:
  Interp() = default;
  bool Bootstrap(const std::vector<std::string>& path, bool strict, ErrorInfo* err);
  bool RunPrelude(const std::string& source, ErrorInfo* err);

  std::string name_;
  InterpKind kind_ = InterpKind::kMain;
  PyInterpreterState* state_ = nullptr;
  PyThreadState* owner_ts_ = nullptr;
  PyObject* module_ = nullptr;
  std::atomic<int> attached_{0};
  std::atomic<bool> retired_{false};
  std::atomic<bool> ended_{false};
  std::mutex waiters_mu_;
  std::vector<std::function<void(bool)>> end_waiters_;
  mutable std::mutex host_mu_;
  std::shared_ptr<HostChannel> host_;
};

}  // namespace pyhost
