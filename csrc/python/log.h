// Log lines leaving the core: Python's stdout/stderr and the core's own events. The host
// (Node binding or daemon) installs one sink; it must accept calls from any thread.
#pragma once
#include <string>

namespace pyhost {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// `owner` is the opaque owner of the group the line belongs to (set with Group::set_owner),
// or nullptr for lines that belong to no group.
using LogSink = void (*)(LogLevel level, const std::string& group, const std::string& line, void* owner);

void SetLogSink(LogSink sink);
void Log(LogLevel level, const std::string& group, const std::string& line, void* owner = nullptr);

}  // namespace pyhost
