"""Which of some modules need a single-phase init extension module, found in a process of its own.

    python -I extension_probe.py '{"modules": [...], "path": [...]}'

Prints one JSON object: {"refusing": {module: extension or null}, "errors": {module: message}}.
`refusing[m]` names the first single-phase init extension module that importing `m` loaded (such
a module cannot load in an own-GIL or strict sub-interpreter), or is null. Run in a throwaway
process because loading an extension runs its init, and a single-phase init extension initialised
in a sub-interpreter that refuses it afterwards can break the process for every interpreter
(CPython 3.11 keeps its module dict, from the ended interpreter, for the next import).
"""
import ctypes
import importlib
import importlib.machinery
import json
import sys

_WORD = ctypes.sizeof(ctypes.c_void_p)
# PyModuleDef: m_base (ob_refcnt, ob_type, m_init, m_index, m_copy), m_name, m_doc, m_size,
# m_methods, m_slots: m_slots is the 10th word, the same in every CPython 3.x.
_SLOTS_OFFSET = 9 * _WORD
_get_def = ctypes.pythonapi.PyModule_GetDef
_get_def.restype = ctypes.c_void_p
_get_def.argtypes = [ctypes.py_object]


def is_extension(module):
    return isinstance(getattr(module, '__loader__', None), importlib.machinery.ExtensionFileLoader)


def is_single_phase(module):
    definition = _get_def(module)
    if not definition:
        ctypes.pythonapi.PyErr_Clear()
        return True  # a copy CPython made of a single-phase module
    return ctypes.c_void_p.from_address(definition + _SLOTS_OFFSET).value is None


def main():
    request = json.loads(sys.argv[1])
    sys.path[:0] = request.get('path', [])
    refusing, errors = {}, {}
    for name in request['modules']:
        before = set(sys.modules)
        try:
            importlib.import_module(name)
        except BaseException as e:  # the probe reports whatever the import did
            errors[name] = '%s: %s' % (type(e).__name__, e)
            continue
        found = None
        # The module itself too: the probe's own imports (ctypes) may have loaded it already.
        for loaded in [name] + sorted(set(sys.modules) - before - {name}):
            module = sys.modules.get(loaded)
            if module is not None and is_extension(module) and is_single_phase(module):
                found = loaded
                break
        refusing[name] = found
    print(json.dumps({'refusing': refusing, 'errors': errors}))


if __name__ == '__main__':
    main()
