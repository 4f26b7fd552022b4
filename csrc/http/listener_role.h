// Which of the serving threads (a daemon process's, or the native HTTP front's) waits for the
// next request (leader/followers). The
// listener takes a request, serves it itself and comes back to listen: under load one thread
// serves request after request with no thread woken and no GIL handed over (measured on hello
// world: 1.23x the throughput of a thread per connection, side by side; a poller thread handing
// each request to a worker reached 0.56x embedded mode, this 0.74x, in alternating runs). While the listener is away serving, the others wait; one of them
// stands by and takes the role over when the listener has been away for kStall and is blocked
// (waiting for I/O, a lock, the GIL), so other connections are still served. A listener that is
// computing keeps the role: a second thread could only wait for the same GIL (measured on the
// Flask page, daemon mode: 4.6 futex calls a request when every stall was taken over, 1.9 with
// this check, and 2-3% more requests/s).
#pragma once
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace pyhost {

class ListenerRole {
 public:
  static constexpr std::chrono::microseconds kStall{1000};
  // A listener away this long is replaced even while it computes: a long request (a big response
  // written to a slow reader is 'R' between its writes) must not hold up other connections.
  static constexpr std::chrono::milliseconds kMaxAway{50};

  // Whether the thread that published `slot` holds a GIL now (Group::SlotHoldsGil).
  using GilProbe = bool (*)(const void* slot);
  // A listener computing without a GIL (hashing, compressing, numpy: C code that released it) is
  // replaced after kStall like a blocked one: another thread can run Python meanwhile.
  void set_gil_probe(GilProbe probe) { gil_probe_ = probe; }

  // Blocks until the calling thread is the listener; returns its ticket (0: stopping). `slot`:
  // the calling thread's published Python thread state (Group::ThisThreadSlot), or null.
  uint64_t Acquire(const void* slot = nullptr);
  // The listener leaves to serve a request.
  void Leave();
  // Back from serving: true if the thread is still the listener (the role was not taken over).
  bool Return(uint64_t ticket);
  // Stopping: every Acquire returns 0.
  void Stop();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t ticket_ = 0;  // the listener's; a take-over makes the old one stale
  bool held_ = false;
  bool stopped_ = false;
  bool away_ = false;  // the listener is serving since away_since_
  std::chrono::steady_clock::time_point away_since_{};
  std::chrono::steady_clock::time_point last_leave_{};
  pid_t listener_tid_ = 0;  // the listener's thread id (gettid)
  const void* listener_slot_ = nullptr;  // ... and its published Python thread state
  GilProbe gil_probe_ = nullptr;
  bool standby_ = false;  // a waiting thread watches the listener
  bool parked_ = false;   // ... without a timeout (idle: the next Leave wakes it)

  // Whether the listener's thread is running on a CPU now (/proc state R) holding a GIL (when a
  // probe can tell). Called with `lock` held; releases it while reading.
  bool ListenerComputing(std::unique_lock<std::mutex>& lock);
};

}  // namespace pyhost
