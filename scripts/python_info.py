"""Print what pyhost needs to know about this Python, as one JSON object.

Run by scripts/build.js (to compile against it) and by the engine (to find the
build that matches a requested interpreter). Works on any Python 3.
"""
import json
import os
import sys
import sysconfig

cfg = sysconfig.get_config_var
libdir = cfg("LIBDIR") or ""
ldlibrary = cfg("LDLIBRARY") or ""
instsoname = cfg("INSTSONAME") or ldlibrary
shared = bool(cfg("Py_ENABLE_SHARED"))
libpython = ""
# The directory and file name the dynamic loader would find it by (its soname, not the target
# of the symlink): builds link it by that name, and daemons find it through that directory.
libpython_dir = ""
libpython_name = ""
for name in (instsoname, ldlibrary):
    for d in (libdir, cfg("LIBPL") or ""):
        candidate = os.path.join(d, name)
        if name.endswith((".so", ".dylib")) or ".so." in name:
            if os.path.exists(candidate):
                libpython = os.path.realpath(candidate)
                libpython_dir, libpython_name = d, name
                break
    if libpython:
        break
include = sysconfig.get_paths().get("include", "")
print(json.dumps({
    "executable": sys.executable,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "hexversion": sys.hexversion,
    "abiflags": getattr(sys, "abiflags", ""),
    "freeThreaded": bool(cfg("Py_GIL_DISABLED")),
    "prefix": sys.prefix,
    "basePrefix": getattr(sys, "base_prefix", sys.prefix),
    "inVenv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
    "shared": shared,
    "libdir": libdir,
    "ldlibrary": ldlibrary,
    "libpython": libpython,
    "libpythonDir": libpython_dir,
    "libpythonName": libpython_name,
    "libname": "python" + cfg("LDVERSION") if cfg("LDVERSION") else "",
    "include": include,
    "hasHeaders": os.path.exists(os.path.join(include, "Python.h")),
    "extSuffix": cfg("EXT_SUFFIX") or "",
}))
