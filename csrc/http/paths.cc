#include "http/paths.h"

#include <strings.h>

#include <vector>

namespace pyhost {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool SplitTarget(const std::string& target, TargetParts* out) {
  if (target.find('#') != std::string::npos) return false;
  std::string rest = target;
  out->absolute = false;
  out->authority.clear();
  // Absolute form (`GET http://host:81/path`): its path is routed, its authority is the host.
  size_t scheme_len = strncasecmp(target.c_str(), "http://", 7) == 0 ? 7 : strncasecmp(target.c_str(), "https://", 8) == 0 ? 8 : 0;
  if (scheme_len) {
    size_t end = target.find_first_of("/?", scheme_len);
    out->absolute = true;
    out->authority = target.substr(scheme_len, end == std::string::npos ? std::string::npos : end - scheme_len);
    rest = end == std::string::npos ? "/" : target.substr(end);
    if (rest[0] != '/') rest = "/" + rest;
  }
  size_t q = rest.find('?');
  if (q == std::string::npos) {
    out->raw_path = std::move(rest);
    out->query.clear();
  } else {
    out->query = rest.substr(q + 1);
    out->raw_path = rest.substr(0, q);
  }
  return true;
}

bool DecodePath(const std::string& raw, std::string* out) {
  if (raw.find('%') == std::string::npos) {
    *out = raw;
    return true;
  }
  out->clear();
  out->reserve(raw.size());
  for (size_t i = 0; i < raw.size(); i++) {
    if (raw[i] != '%') {
      out->push_back(raw[i]);
      continue;
    }
    if (i + 2 >= raw.size()) return false;
    int hi = HexValue(raw[i + 1]), lo = HexValue(raw[i + 2]);
    if (hi < 0 || lo < 0) return false;
    int byte = hi * 16 + lo;
    if (byte == '/' || byte == 0) return false;
    out->push_back(static_cast<char>(byte));
    i += 2;
  }
  return true;
}

std::string NormalizePath(const std::string& path) {
  if (path.find("//") == std::string::npos && path.find("/.") == std::string::npos) return path;
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  std::vector<std::string> out;
  for (size_t i = 1; i < parts.size(); i++) {
    const std::string& p = parts[i];
    bool last = i == parts.size() - 1;
    if (p.empty() && !last) continue;
    if (p == ".") {
      if (last) out.emplace_back();
      continue;
    }
    if (p == "..") {
      if (!out.empty()) out.pop_back();
      if (last) out.emplace_back();
      continue;
    }
    out.push_back(p);
  }
  std::string result = "/";
  for (size_t i = 0; i < out.size(); i++) {
    if (i) result.push_back('/');
    result += out[i];
  }
  return result;
}

bool SplitMount(const std::string& mount, const std::string& path, std::string* script_name, std::string* path_info) {
  if (mount.empty()) {
    script_name->clear();
    *path_info = path;
    return true;
  }
  if (path.compare(0, mount.size(), mount) != 0) return false;
  if (path.size() == mount.size()) {
    *script_name = mount;
    path_info->clear();
    return true;
  }
  if (path[mount.size()] != '/') return false;
  *script_name = mount;
  *path_info = path.substr(mount.size());
  return true;
}

}  // namespace pyhost
