// Log records of a daemon process go to its stderr as JSON lines ({"level","group","message"}),
// which the front parses and hands to its logger.
#pragma once
#include <string>

namespace pyhost {
void InstallDaemonLogSink();
std::string JsonEscape(const std::string& s);
}  // namespace pyhost
