#include "python/host_call.h"

#include <pythread.h>

#include <algorithm>
#include <chrono>

#include "python/group.h"
#include "python/interp.h"
#include "python/pyhost_module.h"
#include "python/pyref.h"
#include "python/sleep.h"

namespace pyhost {
namespace {

struct Caller {
  std::shared_ptr<HostChannel> channel;
  std::string group;
};

// A worker's group; for a thread the application started, the group its interpreter serves.
Caller CurrentCaller(PyObject* module) {
  if (Worker* w = Worker::Current()) return {w->group().host(), w->group().name()};
  ModuleState* st = GetModuleState(module);
  if (st->interp) return {st->interp->host(), st->interp->name()};
  return {nullptr, "%{GLOBAL}"};
}

std::string Joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

bool HostChannel::Has(const std::string& name) const {
  return std::find(names_.begin(), names_.end(), name) != names_.end();
}

void SettleHostCall(const std::shared_ptr<HostCall>& call, bool ok, Value result, std::string error) {
  SettleWaiter(call->ident, [&] {
    if (call->settled) return;
    call->settled = true;
    call->ok = ok;
    call->result = std::move(result);
    call->error = std::move(error);
  });
}

PyObject* HostCallPy(PyObject* module, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyTuple_Check(args[1])) {
    PyErr_SetString(PyExc_TypeError, "host_call(name: str, args: tuple)");
    return nullptr;
  }
  Caller caller = CurrentCaller(module);
  std::string name = PyStrAsUtf8(args[0]);
  if (!caller.channel || !caller.channel->Has(name)) {
    if (!caller.channel) {
      PyErr_Format(PyExc_AttributeError,
                   "application group %s has no host function '%s': it was given none (host functions are given "
                   "with engine.group(name, { host: { ... } }), in embedded mode)",
                   caller.group.c_str(), name.c_str());
    } else {
      PyErr_Format(PyExc_AttributeError, "application group %s has no host function '%s' (it was given: %s)",
                   caller.group.c_str(), name.c_str(), Joined(caller.channel->names()).c_str());
    }
    return nullptr;
  }
  auto call = std::make_shared<HostCall>();
  call->group = caller.group;
  call->name = name;
  call->ident = PyThread_get_thread_ident();
  std::string error;
  if (!ValueFromPython(args[1], &call->args, &error)) {
    PyErr_Format(PyExc_TypeError, "pyhost.host.%s: %s", name.c_str(), error.c_str());
    return nullptr;
  }
  bool posted;
  bool settled;
  Py_BEGIN_ALLOW_THREADS;
  posted = caller.channel->Post(call);
  // No deadline of its own: a call's timeout or cancellation, or a shutdown, interrupts it.
  settled = posted && WaitInterruptibly(std::chrono::steady_clock::now() + std::chrono::hours(24 * 365 * 30),
                                        [&] { return call->settled; });
  Py_END_ALLOW_THREADS;
  ModuleState* st = GetModuleState(module);
  if (!posted) {
    PyErr_Format(st->host_error, "pyhost.host.%s: the host is gone (its Engine closed or its thread ended)", name.c_str());
    return nullptr;
  }
  if (!settled) {
    // Interrupted: the exception aimed at this thread is pending and is raised as this returns.
    // The host's answer, when it comes, is dropped.
    Py_RETURN_NONE;
  }
  if (!call->ok) {
    PyErr_SetString(st->host_error, call->error.c_str());
    return nullptr;
  }
  return ValueToPython(call->result);
}

PyObject* HostNamesPy(PyObject* module, PyObject*) {
  Caller caller = CurrentCaller(module);
  if (!caller.channel) Py_RETURN_NONE;
  const auto& names = caller.channel->names();
  PyObject* out = PyTuple_New(static_cast<Py_ssize_t>(names.size()));
  if (!out) return nullptr;
  for (size_t i = 0; i < names.size(); i++) {
    PyObject* s = PyUnicode_FromStringAndSize(names[i].data(), static_cast<Py_ssize_t>(names[i].size()));
    if (!s) {
      Py_DECREF(out);
      return nullptr;
    }
    PyTuple_SET_ITEM(out, static_cast<Py_ssize_t>(i), s);
  }
  return out;
}

}  // namespace pyhost
