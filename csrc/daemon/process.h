// What every pyhost-daemon process does, whatever it serves: signals taken by one thread only,
// Python started, its UNIX socket listening (for this user only), and a bounded exit.
#pragma once
#include <string>

#include "daemon/config.h"

namespace pyhost {

// Blocks SIGTERM, SIGINT, SIGHUP and SIGUSR2 in every thread (WaitForSignal takes them) and
// ignores SIGPIPE. Call first, before any thread starts.
void BlockSignals();
// The next of those signals (on the calling thread).
int WaitForSignal();

// Starts CPython (with the WSGI gateway's module state). On failure prints "FAILED <why>".
bool StartPython(const DaemonConfig& cfg);

// A listening UNIX socket at `path`, or -1 after printing "FAILED <why>".
int ListenUnix(const std::string& path);

// Prints "READY <pid>": the supervisor may connect.
void AnnounceReady();

// Finalises Python within `timeout_ms` (skipping finalisation if a thread will not stop), then
// exits with status 0.
[[noreturn]] void ExitAfterShutdown(int timeout_ms);

}  // namespace pyhost
