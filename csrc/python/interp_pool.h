// A warm pool of sub-interpreters, created ahead of need on the runtime thread, so that a new
// application group (a harness tenant) takes one instead of paying for creation.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "python/interp.h"

namespace pyhost {

class InterpPool {
 public:
  static InterpPool& Get();
  // Keeps `target` idle interpreters of this kind ready; refills in the background. `prelude`
  // (Python) runs in each when it is created, so its imports are paid ahead of need.
  void SetTarget(InterpKind kind, bool strict, int target, const std::string& prelude = "");
  // An idle interpreter (removed from the pool), or nullptr when none is ready.
  std::shared_ptr<Interp> Take(InterpKind kind, bool strict);
  int idle(InterpKind kind, bool strict);
  int created() const { return created_; }
  // The runtime stopped: forget everything (the runtime ends the interpreters itself).
  void Reset();

 private:
  struct Slot {
    InterpKind kind;
    bool strict;
    int target = 0;
    bool filling = false;
    std::string prelude;
    std::vector<std::shared_ptr<Interp>> ready;
  };
  Slot& SlotFor(InterpKind kind, bool strict);
  void RefillLocked(Slot& slot);

  std::mutex mu_;
  std::vector<Slot> slots_;
  int created_ = 0;
};

}  // namespace pyhost
