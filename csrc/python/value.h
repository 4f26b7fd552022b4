// A plain value that can cross between Python interpreters and JavaScript: None, bool, int,
// float, str, bytes, list and dict with str keys. Objects never cross interpreters; values do.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

typedef struct _object PyObject;

namespace pyhost {

struct Value {
  enum Kind { kNone, kBool, kInt, kBigInt, kFloat, kStr, kBytes, kList, kDict };
  Kind kind = kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // str (UTF-8), bytes, or a big int's decimal digits
  std::vector<Value> items;                           // list
  std::vector<std::pair<std::string, Value>> fields;  // dict, in insertion order

  static Value None() { return Value(); }
  static Value Bool(bool v) { Value x; x.kind = kBool; x.b = v; return x; }
  static Value Int(int64_t v) { Value x; x.kind = kInt; x.i = v; return x; }
  static Value Float(double v) { Value x; x.kind = kFloat; x.f = v; return x; }
  static Value Str(std::string v) { Value x; x.kind = kStr; x.s = std::move(v); return x; }
  static Value Bytes(std::string v) { Value x; x.kind = kBytes; x.s = std::move(v); return x; }
};

// Converts a Python object (GIL held). On failure returns false and sets *error to a message
// naming the path of the offending item and its type; no Python error is left set.
bool ValueFromPython(PyObject* obj, Value* out, std::string* error);

// New reference, or nullptr with a Python error set (GIL held).
PyObject* ValueToPython(const Value& v);

}  // namespace pyhost
