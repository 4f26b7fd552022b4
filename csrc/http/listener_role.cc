#include "http/listener_role.h"

namespace pyhost {

namespace {
// After this long without requests the standby stops checking every kStall (an idle daemon
// does not wake up a thousand times a second); the next Leave wakes it.
constexpr auto kIdle = std::chrono::milliseconds(100);
}  // namespace

uint64_t ListenerRole::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  bool standby = false;
  for (;;) {
    if (stopped_) return 0;
    auto now = std::chrono::steady_clock::now();
    if (!held_ || (away_ && now - away_since_ >= kStall)) break;
    if (standby || !standby_) {
      standby = standby_ = true;
      parked_ = !away_ && now - last_leave_ >= kIdle;
      if (parked_) {
        cv_.wait(lock);
      } else {
        cv_.wait_for(lock, away_ ? kStall - (now - away_since_) : kStall);
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
