// Strings that hold bytes (WSGI's "native strings" are latin-1): JS strings whose code units
// are all below 256 map one-to-one to bytes.
#pragma once
#include <napi.h>

#include <string>

namespace pyhost {

inline std::string Latin1FromJs(napi_env env, napi_value v) {
  size_t len = 0;
  napi_get_value_string_latin1(env, v, nullptr, 0, &len);
  std::string s(len, '\0');
  if (len) napi_get_value_string_latin1(env, v, &s[0], len + 1, &len);
  return s;
}

inline napi_value Latin1ToJs(napi_env env, const std::string& s) {
  napi_value out;
  napi_create_string_latin1(env, s.data(), s.size(), &out);
  return out;
}

}  // namespace pyhost
