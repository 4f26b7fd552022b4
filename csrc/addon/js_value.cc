#include "addon/js_value.h"

#include <cmath>

namespace pyhost {
namespace {
Napi::Error ConversionError(Napi::Env env, const std::string& message) {
  Napi::Error e = Napi::TypeError::New(env, message);
  e.Set("code", "ERR_CONVERSION");
  return e;
}
}  // namespace

Value ValueFromJs(const Napi::Value& v, const std::string& path, int depth) {
  if (depth > 64) throw ConversionError(v.Env(), path + ": nested deeper than 64 levels (a cycle?)");
  switch (v.Type()) {
    case napi_undefined:
    case napi_null:
      return Value::None();
    case napi_boolean:
      return Value::Bool(v.As<Napi::Boolean>().Value());
    case napi_number: {
      double d = v.As<Napi::Number>().DoubleValue();
      if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9007199254740992.0) {
        return Value::Int(static_cast<int64_t>(d));
      }
      return Value::Float(d);
    }
    case napi_bigint: {
      bool lossless = false;
      int64_t i = v.As<Napi::BigInt>().Int64Value(&lossless);
      if (lossless) return Value::Int(i);
      Value big;
      big.kind = Value::kBigInt;
      big.s = v.ToString().Utf8Value();
      return big;
    }
    case napi_string:
      return Value::Str(v.As<Napi::String>().Utf8Value());
    case napi_object: {
      if (v.IsBuffer()) {
        auto b = v.As<Napi::Buffer<char>>();
        return Value::Bytes(std::string(b.Data(), b.Length()));
      }
      if (v.IsTypedArray()) {
        auto t = v.As<Napi::TypedArray>();
        if (t.TypedArrayType() == napi_uint8_array) {
          auto u = v.As<Napi::Uint8Array>();
          return Value::Bytes(std::string(reinterpret_cast<const char*>(u.Data()), u.ByteLength()));
        }
      }
      if (v.IsArray()) {
        auto arr = v.As<Napi::Array>();
        Value list;
        list.kind = Value::kList;
        uint32_t n = arr.Length();
        list.items.reserve(n);
        for (uint32_t i = 0; i < n; i++) {
          list.items.push_back(ValueFromJs(arr.Get(i), path + "[" + std::to_string(i) + "]", depth + 1));
        }
        return list;
      }
      auto obj = v.As<Napi::Object>();
      // Plain objects only: a Date, Map or class instance has no faithful Python counterpart.
      Napi::Value proto = obj.Get("constructor");
      bool plain = proto.IsUndefined() ||
                   (proto.IsFunction() && proto.As<Napi::Function>().Get("name").ToString().Utf8Value() == "Object");
      if (!plain) {
        throw ConversionError(v.Env(), path + ": cannot pass a " +
                                                proto.As<Napi::Object>().Get("name").ToString().Utf8Value() +
                                                " to Python (plain objects, arrays, strings, numbers, booleans, "
                                                "null, bigint and Buffer can be passed)");
      }
      Value dict;
      dict.kind = Value::kDict;
      Napi::Array keys = obj.GetPropertyNames();
      for (uint32_t i = 0; i < keys.Length(); i++) {
        std::string k = keys.Get(i).ToString().Utf8Value();
        dict.fields.emplace_back(k, ValueFromJs(obj.Get(k), path + "." + k, depth + 1));
      }
      return dict;
    }
    default:
      throw ConversionError(v.Env(), path + ": cannot pass a " + std::string(v.IsFunction() ? "function" : "symbol") +
                                         " to Python");
  }
}

Napi::Value ValueToJs(Napi::Env env, const Value& v) {
  switch (v.kind) {
    case Value::kNone:
      return env.Null();
    case Value::kBool:
      return Napi::Boolean::New(env, v.b);
    case Value::kInt:
      if (v.i > 9007199254740991LL || v.i < -9007199254740991LL) return Napi::BigInt::New(env, v.i);
      return Napi::Number::New(env, static_cast<double>(v.i));
    case Value::kBigInt: {
      Napi::Function big = env.Global().Get("BigInt").As<Napi::Function>();
      return big.Call({Napi::String::New(env, v.s)});
    }
    case Value::kFloat:
      return Napi::Number::New(env, v.f);
    case Value::kStr:
      return Napi::String::New(env, v.s);
    case Value::kBytes:
      return Napi::Buffer<char>::Copy(env, v.s.data(), v.s.size());
    case Value::kList: {
      Napi::Array arr = Napi::Array::New(env, v.items.size());
      for (size_t i = 0; i < v.items.size(); i++) arr.Set(static_cast<uint32_t>(i), ValueToJs(env, v.items[i]));
      return arr;
    }
    case Value::kDict: {
      Napi::Object obj = Napi::Object::New(env);
      // Defined, not assigned: a "__proto__" key must be a key, not a prototype.
      for (const auto& [k, val] : v.fields) {
        obj.DefineProperty(Napi::PropertyDescriptor::Value(k, ValueToJs(env, val), napi_default_jsproperty));
      }
      return obj;
    }
  }
  return env.Undefined();
}

Napi::Object ErrorToJs(Napi::Env env, const ErrorInfo& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("code", e.code);
  o.Set("message", e.message);
  if (!e.type.empty()) o.Set("type", e.type);
  if (!e.traceback.empty()) o.Set("traceback", e.traceback);
  if (!e.refused_module.empty()) o.Set("refusedModule", e.refused_module);
  return o;
}

}  // namespace pyhost
