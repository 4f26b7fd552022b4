// pyhost_preload.node: puts the selected Python's libpython into the process's global symbol
// scope before pyhost.node is loaded. pyhost.node links no libpython (one build serves every
// CPython of a minor version), so its Python symbols, and those of every C extension module
// Python loads later (numpy, _ssl, ...), resolve from the library opened here. Links no Python.
#include <dlfcn.h>
#include <napi.h>

#include <mutex>
#include <string>

namespace {

// runtimeRecord(): what the process's Python runtime runs (JSON, set by the Node thread that
// started it), or undefined; runtimeRecord(json | null) sets or clears it. Process-wide: every
// Node thread loads this one library, whichever Python it asks for, so a Worker can learn which
// Python already runs before it loads a build. A hint only: the runtime itself has the last word.
std::mutex record_mu;
std::string record;
bool has_record = false;

Napi::Value RuntimeRecord(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(record_mu);
  if (info.Length() == 0) return has_record ? Napi::String::New(env, record) : env.Undefined();
  if (info[0].IsString()) {
    record = info[0].As<Napi::String>();
    has_record = true;
  } else if (info[0].IsNull() || info[0].IsUndefined()) {
    record.clear();
    has_record = false;
  } else {
    throw Napi::TypeError::New(env, "runtimeRecord(json | null): json must be a string");
  }
  return env.Undefined();
}

// openGlobal(path): dlopen(path, RTLD_NOW | RTLD_GLOBAL), kept open for the life of the process.
// Throws with the loader's message (missing file, wrong architecture, missing dependency).
Napi::Value OpenGlobal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) {
    throw Napi::TypeError::New(env, "openGlobal(path): path must be a string");
  }
  std::string path = info[0].As<Napi::String>();
  if (!dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
    const char* why = dlerror();
    Napi::Error e = Napi::Error::New(env, std::string("cannot load ") + path + ": " + (why ? why : "unknown error"));
    e.Set("code", "ERR_LIBPYTHON_LOAD");
    throw e;
  }
  return env.Undefined();
}

// providerOf(symbol): the file that provides `symbol` in the global scope, or undefined when no
// loaded object does (a library opened RTLD_LOCAL does not count).
Napi::Value ProviderOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) {
    throw Napi::TypeError::New(env, "providerOf(symbol): symbol must be a string");
  }
  std::string symbol = info[0].As<Napi::String>();
  void* address = dlsym(RTLD_DEFAULT, symbol.c_str());
  Dl_info where;
  if (!address || !dladdr(address, &where) || !where.dli_fname) return env.Undefined();
  return Napi::String::New(env, where.dli_fname);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("openGlobal", Napi::Function::New(env, OpenGlobal, "openGlobal"));
  exports.Set("providerOf", Napi::Function::New(env, ProviderOf, "providerOf"));
  exports.Set("runtimeRecord", Napi::Function::New(env, RuntimeRecord, "runtimeRecord"));
  return exports;
}

}  // namespace

NODE_API_MODULE(pyhost_preload, Init)
