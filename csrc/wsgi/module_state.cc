#include "core/pyhost_module.h"

namespace pyhost {
int WsgiModuleExec(PyObject* module, ModuleState* state) { return 0; }
int WsgiModuleTraverse(WsgiState* state, visitproc visit, void* arg) { return 0; }
void WsgiModuleClear(WsgiState* state) {}
}  // namespace pyhost
