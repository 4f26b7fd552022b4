// A Python exception captured as plain data, so it can leave the interpreter (and the GIL).
#pragma once
#include <string>

namespace pyhost {

struct ErrorInfo {
  std::string code;       // pyhost error code, e.g. ERR_PYTHON_EXCEPTION, ERR_CONVERSION
  std::string type;       // qualified Python type name, e.g. "ZeroDivisionError", "json.decoder.JSONDecodeError"
  std::string message;    // str(exc)
  std::string traceback;  // traceback.format_exception(exc), joined
  // Set when the exception (or one it chains from) is an ImportError raised because an extension
  // module does not support sub-interpreters: the module's name.
  std::string refused_module;

  bool empty() const { return code.empty(); }
  static ErrorInfo Make(std::string code, std::string message) {
    ErrorInfo e;
    e.code = std::move(code);
    e.message = std::move(message);
    return e;
  }
};

// Takes the current Python exception (GIL held, an exception set), clears it.
ErrorInfo FetchPythonError();

// The part of the message that marks an extension refusing sub-interpreters (CPython 3.12+).
constexpr const char* kSubinterpreterRefusal = "does not support loading in subinterpreters";

}  // namespace pyhost
