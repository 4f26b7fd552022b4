// Values between JavaScript and the core's plain Value (loop thread only).
#pragma once
#include <napi.h>

#include "python/error_info.h"
#include "python/value.h"

namespace pyhost {

// Throws a Napi::TypeError naming the path of a value that cannot go to Python.
Value ValueFromJs(const Napi::Value& v, const std::string& path = "argument", int depth = 0);
Napi::Value ValueToJs(Napi::Env env, const Value& v);
// A plain object {code, type, message, traceback, refusedModule}; ts/errors.ts makes it a
// PyhostError.
Napi::Object ErrorToJs(Napi::Env env, const ErrorInfo& e);

}  // namespace pyhost
