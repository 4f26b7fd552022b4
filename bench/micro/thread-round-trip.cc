// The machine's floor for a call that crosses to another thread and back, without Python or
// Node: the caller queues a job under a mutex and signals a condition variable, the worker
// answers through an eventfd the caller waits on with epoll (libuv's uv_async does the same).
// With SPIN=<µs> the worker polls for the next job that long before it sleeps (the spin pyhost's
// call workers do, csrc/python/group.cc). Prints the median and p90 round trip in µs.
//
//   g++ -O2 -pthread bench/micro/thread-round-trip.cc -o /tmp/thread-round-trip
//   /tmp/thread-round-trip; SPIN=100 /tmp/thread-round-trip
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace {
std::mutex mu;
std::condition_variable cv;
std::atomic<int> pending{0};
bool sleeping = false;
int event_fd = -1;

void Worker(int spin_us) {
  for (;;) {
    auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us);
    while (pending.load(std::memory_order_acquire) == 0 && std::chrono::steady_clock::now() < until) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    }
    if (pending.load() == 0) {
      std::unique_lock<std::mutex> lock(mu);
      sleeping = true;
      cv.wait(lock, [] { return pending.load() != 0; });
      sleeping = false;
    }
    pending.fetch_sub(1);
    uint64_t one = 1;
    if (write(event_fd, &one, sizeof one) != sizeof one) std::abort();
  }
}
}  // namespace

int main() {
  const char* spin_env = std::getenv("SPIN");
  int spin_us = spin_env ? std::atoi(spin_env) : 0;
  event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  epoll_ctl(ep, EPOLL_CTL_ADD, event_fd, &ev);
  std::thread(Worker, spin_us).detach();
  constexpr int kWarm = 2000, kSamples = 30000;
  std::vector<double> times(kSamples);
  for (int i = 0; i < kWarm + kSamples; i++) {
    auto start = std::chrono::steady_clock::now();
    pending.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(mu);
      if (sleeping) cv.notify_one();
    }
    epoll_event out[4];
    epoll_wait(ep, out, 4, -1);
    uint64_t n;
    if (read(event_fd, &n, sizeof n) != sizeof n) std::abort();
    if (i >= kWarm) times[i - kWarm] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  }
  std::sort(times.begin(), times.end());
  std::printf("thread round trip, worker spin %d us: median %.1f us, p90 %.1f us\n", spin_us, times[kSamples / 2], times[kSamples * 9 / 10]);
  std::fflush(stdout);
  std::_Exit(0);  // the worker never ends
}
