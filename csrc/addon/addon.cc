// Entry point of the Node addon.
#include <dlfcn.h>

#include <string>

#include "wsgi/wsgi_state.h"
#include "python/group.h"
#include "python/pyref.h"
#include "python/runtime.h"
#include "addon/addon_data.h"
#include "addon/host_binding.h"
#include "napi/listen_binding.h"

namespace pyhost {
namespace {

// Node loads addons RTLD_LOCAL, which keeps the libpython this addon links out of the global
// symbol scope; C extension modules (numpy, _ssl, ...) then fail with "undefined symbol:
// PyExc_...". Re-open libpython RTLD_GLOBAL (NOLOAD: it is the copy already mapped). Refuses to
// promote a second, different libpython into a process that already has one.
std::string PromoteLibpython() {
  Dl_info ours;
  if (!dladdr(reinterpret_cast<void*>(&Py_Initialize), &ours) || !ours.dli_fname) return "";
  void* existing = dlsym(RTLD_DEFAULT, "Py_Initialize");
  if (existing && existing != reinterpret_cast<void*>(&Py_Initialize)) {
    Dl_info theirs;
    std::string other = dladdr(existing, &theirs) && theirs.dli_fname ? theirs.dli_fname : "another libpython";
    return "this process already has Python loaded from " + other + "; pyhost's build for " + ours.dli_fname +
           " cannot share the process with it (one Python per process; use a daemon process group for another)";
  }
  if (!dlopen(ours.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL)) {
    return std::string("could not re-open ") + ours.dli_fname + " with RTLD_GLOBAL: " + dlerror();
  }
  return "";
}

}  // namespace

void ReleaseEnvironment(AddonData* data) {
  if (data->attached) {
    for (auto& weak : data->groups) {
      if (auto g = weak.lock()) {
        g->InterruptAll(PyExc_SystemExit);  // running calls end; queued ones are dropped by Close
        g->Close();
      }
    }
    CancelEnvironmentRequests(data);
  }
  CloseEnvironmentHostCalls(data);
  data->groups.clear();
  ForgetRuntimePort(data->port);
  data->port->Close();
  if (data->attached) {
    data->attached = false;
    Runtime::Get().Leave();
  }
}

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  std::string conflict = PromoteLibpython();
  if (!conflict.empty()) {
    Napi::Error e = Napi::Error::New(env, conflict);
    e.Set("code", "ERR_RUNTIME_CONFLICT");
    throw e;
  }
  RegisterWsgiModule();  // the gateway's state in every interpreter (before Python starts)
  auto* data = new AddonData();
  data->port = new CompletionPort(env);
  // Never freed: worker threads may still reach it (through the port) after the environment ends.
  napi_set_instance_data(env, data, nullptr, nullptr);
  napi_add_env_cleanup_hook(
      env, [](void* arg) { ReleaseEnvironment(static_cast<AddonData*>(arg)); }, data);
  InitRuntimeBinding(env, exports);
  InitGroupBinding(env, exports);
  InitRequestBinding(env, exports);
  InitHostBinding(env, exports);
  InitListenBinding(env, exports);
  InitHttpServerBinding(env, exports);
  exports.Set("pythonVersionBuilt", Napi::String::New(env, PY_VERSION));
  return exports;
}

}  // namespace
}  // namespace pyhost

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return pyhost::Init(env, exports); }
NODE_API_MODULE(pyhost, InitAddon)
