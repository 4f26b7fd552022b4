#include "node/addon_data.h"

namespace pyhost {
void InitRequestBinding(Napi::Env env, Napi::Object exports) {}
}  // namespace pyhost
