"""Run once in every interpreter pyhost creates (main and sub-interpreters), before any application
code: sys.stdout and sys.stderr become log streams (complete lines go to the host's logger, tagged
with the group), pythonPath entries go first on sys.path, time.sleep becomes one the host can
interrupt, and on Python 3.11 a strict group refuses single-phase init extension modules. Embedded in the native core at build time
(scripts/embed-python.cjs); it runs once per interpreter, not per request, so it is Python.
"""


def _pyhost_bootstrap(path_entries, strict_extensions):
    import io, sys, site, _thread, _pyhost

    class LogStream(io.TextIOBase):
        """sys.stdout / sys.stderr: complete lines go to the host's logger, tagged with the group."""

        def __init__(self, level, name):
            self._level = level
            self._name = name
            self._local = _thread._local()  # not threading: a lighter interpreter

        @property
        def name(self):
            return '<pyhost %s>' % self._name

        encoding = 'utf-8'
        errors = 'backslashreplace'

        def writable(self):
            return True

        def isatty(self):
            return False

        def write(self, s):
            if not isinstance(s, str):
                raise TypeError('write() argument must be str, not %s' % type(s).__name__)
            buf = getattr(self._local, 'buf', '') + s
            if '\n' in buf:
                *lines, buf = buf.split('\n')
                for line in lines:
                    _pyhost.log(self._level, line)
            self._local.buf = buf
            return len(s)

        def flush(self):
            buf = getattr(self._local, 'buf', '')
            if buf:
                self._local.buf = ''
                _pyhost.log(self._level, buf)

    sys.stdout = LogStream(1, 'stdout')
    sys.stderr = LogStream(2, 'stderr')

    def add_paths(entries):
        """pythonPath entries are processed like site.addsitedir (.pth files honoured) and, with
        whatever they add, moved to the front of sys.path in the order given."""
        front = []
        for entry in entries:
            before = set(sys.path)
            site.addsitedir(entry)
            added = [p for p in sys.path if p not in before]
            if entry not in added:
                added.insert(0, entry)
            front.extend(p for p in added if p not in front)
        if front:
            sys.path[:] = front + [p for p in sys.path if p not in front]

    # time.sleep ends at once when the host raises in the thread (a call's timeout or
    # cancellation, a shutdown): csrc/python/sleep.h.
    import time
    time.sleep = _pyhost.sleep

    # Also for later use: a re-homed group's entries, a harness tenant's.
    _pyhost.add_paths = add_paths
    add_paths(path_entries)

    if strict_extensions and sys.version_info < (3, 12):
        # Python 3.12+ refuses single-phase init extensions in such interpreters itself
        # (check_multi_interp_extensions); on 3.11 the same check is made after loading.
        from importlib.machinery import ExtensionFileLoader
        load = ExtensionFileLoader.create_module

        def create_module(self, spec):
            module = load(self, spec)
            if _pyhost.is_single_phase(module):
                # CPython already put it in sys.modules while loading it: take it out again.
                if sys.modules.get(spec.name) is module:
                    del sys.modules[spec.name]
                raise ImportError('module %s does not support loading in subinterpreters' % spec.name,
                                  name=spec.name, path=spec.origin)
            return module

        ExtensionFileLoader.create_module = create_module

    def live_non_daemon_threads():
        """Non-daemon threads alive in this interpreter: finalising it would wait for them without
        a bound (the runtime checks before it finalises)."""
        threading = sys.modules.get('threading')
        if threading is None:
            return 0
        return sum(1 for t in threading.enumerate() if t.is_alive() and not t.daemon
                   and not isinstance(t, (threading._MainThread, threading._DummyThread)))

    _pyhost.live_non_daemon_threads = live_non_daemon_threads
