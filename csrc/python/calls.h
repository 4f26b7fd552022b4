// The call API for harnesses and tests: exec a statement, eval an expression, call a function.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "python/error_info.h"
#include "python/value.h"

namespace pyhost {

class Worker;

struct CallRequest {
  enum Kind { kExec, kEval, kCall } kind = kEval;
  std::string source;  // exec / eval
  std::string module;  // call: module to import
  std::string func;    // call: attribute path in it, e.g. "Parser.parse"
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
};

struct CallOutcome {
  Value value;
  ErrorInfo error;  // empty on success
};

// Worker thread, GIL held. exec/eval run in the interpreter's __main__ namespace; compiled
// sources are cached per interpreter.
CallOutcome RunCall(Worker& worker, const CallRequest& req);

}  // namespace pyhost
