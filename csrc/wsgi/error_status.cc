#include "wsgi/error_status.h"

#include <mutex>

namespace pyhost {
namespace {

std::mutex mu;
std::vector<std::pair<std::string, int>> statuses;

}  // namespace

void SetErrorStatuses(std::vector<std::pair<std::string, int>> table) {
  std::lock_guard<std::mutex> lock(mu);
  statuses = std::move(table);
}

int ErrorStatus(const std::string& code) {
  std::lock_guard<std::mutex> lock(mu);
  for (const auto& [c, status] : statuses)
    if (c == code) return status;
  return 500;
}

}  // namespace pyhost
