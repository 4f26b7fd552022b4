#include "python/deadlines.h"

#include "python/group.h"

namespace pyhost {

Deadlines& Deadlines::Get() {
  // Never destroyed: its thread runs for the life of the process.
  static Deadlines* instance = new Deadlines();
  return *instance;
}

void Deadlines::Arm(const std::shared_ptr<Group>& group, Job* job) {
  Entry e;
  e.group = group;
  e.job = job;
  auto now = Clock::now();
  e.deadline = job->timeout_ms > 0 ? now + std::chrono::milliseconds(job->timeout_ms) : Clock::time_point::max();
  std::lock_guard<std::mutex> lock(mu_);
  if (!started_) {
    started_ = true;
    std::thread([this] { Loop(); }).detach();
  }
  entries_[{group.get(), job->seq}] = e;
  cv_.notify_one();
}

InterruptKind Deadlines::Disarm(Group* group, uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find({group, seq});
  if (it == entries_.end()) return InterruptKind::kNone;
  InterruptKind kind = it->second.kind;
  entries_.erase(it);
  return kind;
}

bool Deadlines::Armed(Group* group, uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.count({group, seq}) != 0;
}

bool Deadlines::Cancel(Group* group, uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find({group, seq});
  if (it == entries_.end()) return false;
  Entry& e = it->second;
  if (e.kind == InterruptKind::kNone) {
    // Interrupted from now on, as at a deadline (the loop raises at next_raise; the grace period
    // before "stuck" starts now).
    auto now = Clock::now();
    e.kind = InterruptKind::kCancelled;
    e.deadline = now;
    e.next_raise = now;
    e.stuck_at = now + std::chrono::milliseconds(e.job->grace_ms);
    cv_.notify_one();
  }
  return true;
}

void Deadlines::FireLocked(const Key& key, Entry& e, Clock::time_point now) {
  if (e.kind == InterruptKind::kNone) e.kind = InterruptKind::kTimeout;
  if (e.stuck_at == Clock::time_point()) e.stuck_at = now + std::chrono::milliseconds(e.job->grace_ms);
  e.next_raise = now + kRepeat;
  auto group = e.group.lock();
  if (!group) return;
  // The visit's callback runs on the visiting thread, never here (mu_ is held).
  e.visiting = group->InterruptHard(key.second, e.kind == InterruptKind::kCancelled, [this, key] {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) it->second.visiting = false;
    cv_.notify_one();
  });
}

void Deadlines::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    auto now = Clock::now();
    auto wake = Clock::time_point::max();
    for (auto& [key, e] : entries_) {
      if (e.kind == InterruptKind::kNone) {
        if (e.deadline <= now) FireLocked(key, e, now);
        else wake = std::min(wake, e.deadline);
        if (e.kind == InterruptKind::kNone) continue;
      }
      if (!e.stuck_reported && e.stuck_at <= now) {
        e.stuck_reported = true;
        e.job->OnStuck();
      }
      if (!e.visiting && e.next_raise <= now) FireLocked(key, e, now);
      if (!e.visiting) wake = std::min(wake, e.next_raise);
      if (!e.stuck_reported) wake = std::min(wake, e.stuck_at);
    }
    if (wake == Clock::time_point::max()) cv_.wait(lock);
    else cv_.wait_until(lock, wake);
  }
}

}  // namespace pyhost
