#include "http/listener_role.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace pyhost {

namespace {
// After this long without requests the standby stops checking every kStall (an idle daemon
// does not wake up a thousand times a second); the next Leave wakes it.
constexpr auto kIdle = std::chrono::milliseconds(100);
}  // namespace

bool ListenerRole::ListenerComputing(std::unique_lock<std::mutex>& lock) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", static_cast<int>(listener_tid_));
  lock.unlock();
  char buf[512];
  ssize_t n = -1;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
  }
  lock.lock();
  if (n <= 0) return false;
  buf[n] = '\0';
  // "tid (comm) S ...": the state follows the last ')'.
  const char* paren = std::strrchr(buf, ')');
  if (!paren || paren[1] != ' ' || paren[2] != 'R') return false;
  return !gil_probe_ || !listener_slot_ || gil_probe_(listener_slot_);
}

uint64_t ListenerRole::Acquire(const void* slot) {
  std::unique_lock<std::mutex> lock(mu_);
  bool standby = false;
  // The listener was seen computing: it keeps the role until this time at least.
  std::chrono::steady_clock::time_point busy_until{};
  for (;;) {
    if (stopped_) return 0;
    auto now = std::chrono::steady_clock::now();
    if (!held_) break;
    if (away_ && now - away_since_ >= kStall && (now >= busy_until || now - away_since_ >= kMaxAway)) {
      auto since = away_since_;
      bool computing = now - away_since_ < kMaxAway && ListenerComputing(lock);
      if (stopped_) return 0;
      // Unless it came back meanwhile (and left again).
      if (!computing && held_ && away_ && away_since_ == since) break;
      busy_until = std::chrono::steady_clock::now() + kStall;
      continue;
    }
    if (standby || !standby_) {
      standby = standby_ = true;
      parked_ = !away_ && now - last_leave_ >= kIdle;
      if (parked_) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, away_ ? std::max(away_since_ + kStall, busy_until) : now + kStall);
      }
    } else {
      cv_.wait(lock);
    }
  }
  if (standby) {
    // Someone else stands by from now on.
    standby_ = parked_ = false;
    cv_.notify_one();
  }
  held_ = true;
  away_ = false;
  listener_tid_ = static_cast<pid_t>(::syscall(SYS_gettid));
  listener_slot_ = slot;
  return ++ticket_;
}

void ListenerRole::Leave() {
  std::lock_guard<std::mutex> lock(mu_);
  away_ = true;
  away_since_ = last_leave_ = std::chrono::steady_clock::now();
  if (parked_) {
    parked_ = false;
    cv_.notify_all();  // the standby watches again (only after an idle spell)
  }
}

void ListenerRole::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  cv_.notify_all();
}

bool ListenerRole::Return(uint64_t ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ticket != ticket_) return false;
  away_ = false;
  return true;
}

}  // namespace pyhost
