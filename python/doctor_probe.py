"""Helpers `pyhost doctor` runs in the interpreters it probes (ts/cli/doctor-probe.ts): run in
__main__, so their names carry a _pyhost_ prefix."""

import importlib.machinery as _m
import importlib.util as _u
import sys as _sys
import sysconfig as _sc




def _pyhost_is_extension(name):
    try:
        spec = _u.find_spec(name)
    except Exception:
        return False
    return bool(spec and spec.origin and spec.origin.endswith(tuple(_m.EXTENSION_SUFFIXES)))


def _pyhost_symbol_in_libpython(symbol):
    try:
        import ctypes
        import os
        lib = os.path.join(_sc.get_config_var('LIBDIR') or '', _sc.get_config_var('INSTSONAME') or '')
        return hasattr(ctypes.CDLL(lib), symbol)
    except Exception:
        return None


def _pyhost_try_imports(names):
    import json
    loaded, failed = [], []
    for name in names:
        if not _pyhost_is_extension(name):
            continue
        try:
            __import__(name)
            loaded.append(name)
        except Exception as exc:
            failed.append({'module': name, 'error': '%s: %s' % (type(exc).__name__, exc)})
    return json.dumps([loaded, failed])


def _pyhost_loaded_extensions():
    suffixes = tuple(_m.EXTENSION_SUFFIXES)
    found = []
    for name, module in list(_sys.modules.items()):
        origin = getattr(getattr(module, '__spec__', None), 'origin', None) or ''
        if origin.endswith(suffixes):
            found.append([name, origin])
    return sorted(found)


# Imports a module in a sub-interpreter: by name, or from the file it came from in %{GLOBAL} when
# the name is not importable (an extension loaded under another name, like _testmultiphase's
# _test_shared_gil_only).
def _pyhost_import(name, origin):
    if name in _sys.modules:
        return
    spec = _u.find_spec(name)
    if spec is None or spec.origin != origin:
        spec = _u.spec_from_file_location(name, origin)
    module = _u.module_from_spec(spec)
    _sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del _sys.modules[name]
        raise
