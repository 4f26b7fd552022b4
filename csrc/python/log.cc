#include "python/log.h"

#include <atomic>
#include <cstdio>

namespace pyhost {
namespace {
std::atomic<LogSink> g_sink{nullptr};
}

void SetLogSink(LogSink sink) { g_sink.store(sink); }

void Log(LogLevel level, const std::string& group, const std::string& line, void* owner) {
  LogSink sink = g_sink.load();
  if (sink) {
    sink(level, group, line, owner);
    return;
  }
  static const char* names[] = {"debug", "info", "warn", "error"};
  std::fprintf(stderr, "[pyhost:%s] [group %s] %s\n", names[static_cast<int>(level)], group.c_str(), line.c_str());
}

}  // namespace pyhost
