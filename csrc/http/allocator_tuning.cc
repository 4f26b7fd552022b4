#include "http/allocator_tuning.h"

#include <malloc.h>

#include <mutex>

namespace pyhost {
namespace {
constexpr int kTrimThreshold = 64 << 20;
constexpr int kMmapThreshold = 4 << 20;
}  // namespace

void TuneAllocatorForServing() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
    mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  });
}

}  // namespace pyhost
