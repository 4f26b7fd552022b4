// Calls from Python to functions the host gave an application group: `pyhost.host.name(*args)`
// (python/bootstrap.py) is _pyhost.host_call(name, args). The calling thread converts the
// arguments to plain values, hands the call to the group's HostChannel (which the Node addon
// implements: the call runs on the owning Engine's event loop, never on a Python thread), and
// waits with its GIL released until the host settles it or the thread is interrupted.
#pragma once
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <memory>
#include <string>
#include <vector>

#include "python/value.h"

namespace pyhost {

struct HostCall {
  std::string group;
  std::string name;
  Value args;                 // a list
  unsigned long ident = 0;    // the waiting thread
  // Set once, under the waiters' lock (SettleHostCall).
  bool settled = false;
  bool ok = false;
  Value result;
  std::string error;  // the JS exception's message, when !ok
};

class HostChannel {
 public:
  explicit HostChannel(std::vector<std::string> names) : names_(std::move(names)) {}
  virtual ~HostChannel() = default;
  const std::vector<std::string>& names() const { return names_; }
  bool Has(const std::string& name) const;
  // Any thread: hands the call to the host. False when the host is gone (its Engine closed, its
  // thread ended): the call fails at once.
  virtual bool Post(std::shared_ptr<HostCall> call) = 0;

 private:
  std::vector<std::string> names_;
};

// Any thread: the host's answer; wakes the waiting thread.
void SettleHostCall(const std::shared_ptr<HostCall>& call, bool ok, Value result, std::string error);

// _pyhost.host_call(name, args: tuple): the call (AttributeError for a name the group was not
// given, _pyhost.HostError for the host's exception).
PyObject* HostCallPy(PyObject* module, PyObject* const* args, Py_ssize_t nargs);
// _pyhost.host_names() -> tuple of the calling thread's group's host function names, or None
// when the group has no host (a daemon process, a harness tenant).
PyObject* HostNamesPy(PyObject* module, PyObject*);

}  // namespace pyhost
