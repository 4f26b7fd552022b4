#include "python/interp_pool.h"

#include "python/log.h"
#include "python/runtime.h"

namespace pyhost {

InterpPool& InterpPool::Get() {
  static InterpPool* pool = new InterpPool();
  return *pool;
}

InterpPool::Slot& InterpPool::SlotFor(InterpKind kind, bool strict) {
  for (auto& s : slots_)
    if (s.kind == kind && s.strict == strict) return s;
  slots_.push_back(Slot{kind, strict});
  return slots_.back();
}

void InterpPool::SetTarget(InterpKind kind, bool strict, int target, const std::string& prelude) {
  std::lock_guard<std::mutex> lock(mu_);
  Slot& s = SlotFor(kind, strict);
  s.target = target;
  if (!prelude.empty()) s.prelude = prelude;
  RefillLocked(s);
}

std::shared_ptr<Interp> InterpPool::Take(InterpKind kind, bool strict) {
  std::lock_guard<std::mutex> lock(mu_);
  Slot& s = SlotFor(kind, strict);
  std::shared_ptr<Interp> in;
  while (!s.ready.empty() && !in) {
    in = s.ready.back();
    s.ready.pop_back();
    if (in->ended() || in->retired()) in.reset();
  }
  RefillLocked(s);
  return in;
}

int InterpPool::idle(InterpKind kind, bool strict) {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(SlotFor(kind, strict).ready.size());
}

void InterpPool::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  slots_.clear();
}

// One interpreter at a time, each a runtime-thread task, so other runtime work interleaves.
void InterpPool::RefillLocked(Slot& s) {
  if (s.filling || static_cast<int>(s.ready.size()) >= s.target) return;
  s.filling = true;
  InterpSpec spec;
  spec.name = "(pool)";
  spec.kind = s.kind;
  spec.strict_extensions = s.strict;  // the host decided (an own GIL implies strict)
  spec.prelude = s.prelude;
  spec.background = true;
  InterpKind kind = s.kind;
  bool strict = s.strict;
  Runtime::Get().CreateInterp(spec, [this, kind, strict](std::shared_ptr<Interp> in, ErrorInfo err) {
    std::lock_guard<std::mutex> lock(mu_);
    Slot& slot = SlotFor(kind, strict);
    slot.filling = false;
    if (!in) {
      Log(LogLevel::kError, "(pool)", "could not create a pooled interpreter: " + err.message);
      return;  // no retry loop: the next Take or SetTarget tries again
    }
    created_++;
    slot.ready.push_back(in);
    RefillLocked(slot);
  });
}

}  // namespace pyhost
