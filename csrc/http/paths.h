// URL paths as WSGI sees them, the rules of ts/http/paths.ts for the native front: the request
// target brought to origin form, percent-decoded to bytes held as latin-1 (PEP 3333), normalised
// as Apache does (merged slashes, dot segments resolved) and split at a mount point.
#pragma once
#include <string>

namespace pyhost {

struct TargetParts {
  std::string raw_path;   // before '?'
  std::string query;      // after '?', raw
  std::string authority;  // of an absolute-form target (replaces the Host header), else ''
  bool absolute = false;
};

// Splits a request target. False for a target Apache refuses with 400 (a fragment).
bool SplitTarget(const std::string& target, TargetParts* out);
// Percent-decodes a raw path; false for what Apache refuses: %2F (AllowEncodedSlashes Off), %00,
// a malformed escape.
bool DecodePath(const std::string& raw, std::string* out);
// Merges repeated slashes and resolves `.` and `..` (never above the root).
std::string NormalizePath(const std::string& path);
// `/app` serves `/app` and `/app/...`; the root mount ('') serves everything with an empty
// SCRIPT_NAME. False if `path` is not under `mount`.
bool SplitMount(const std::string& mount, const std::string& path, std::string* script_name, std::string* path_info);

}  // namespace pyhost
