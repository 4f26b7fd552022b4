// The HTTP status the gateway answers with when it answers for an application (the application
// could not be loaded, or the request never ran): the host's scheduler decides (ts/scheduler/
// status.ts) and hands its table over before serving; a code not in it answers 500.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace pyhost {

void SetErrorStatuses(std::vector<std::pair<std::string, int>> table);
int ErrorStatus(const std::string& code);

}  // namespace pyhost
