#pragma once

namespace pyhost {
// Defines `_pyhost_bootstrap(path_entries, strict_extensions)`; see bootstrap.cc.
extern const char* const kBootstrapSource;
}  // namespace pyhost
