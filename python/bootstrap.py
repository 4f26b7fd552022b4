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

    _install_pyhost_module(sys, _pyhost)
    _install_iteration(_pyhost)


def _install_pyhost_module(sys, _pyhost):
    """`import pyhost` in application code: pyhost.host (the functions the host gave this group,
    python/host_call.h in the native core), pyhost.HostError, and the exceptions a call is
    interrupted with (Interrupted, CallTimeout, Cancelled)."""

    class Host:
        """pyhost.host.name(*args) calls the host function `name` given to this group: plain
        values both ways; the thread waits with its GIL released."""

        __slots__ = ()

        def __getattr__(self, name):
            names = _pyhost.host_names()
            if name.startswith('__') or names is None or name not in names:
                # host_call says why (no host functions, or which ones there are).
                try:
                    _pyhost.host_call(name, ())
                except AttributeError as e:
                    raise AttributeError(str(e)) from None
                raise AttributeError(name)

            def call(*args):
                return _pyhost.host_call(name, args)

            call.__name__ = call.__qualname__ = name
            return call

        def __dir__(self):
            return list(_pyhost.host_names() or ())

        def __repr__(self):
            return '<pyhost.host: %s>' % (', '.join(_pyhost.host_names() or ()) or 'no host functions')

    m = type(sys)('pyhost', 'pyhost: what the host gives this interpreter.')
    m.host = Host()
    m.HostError = _pyhost.HostError
    m.Interrupted = _pyhost.Interrupted
    m.CallTimeout = _pyhost.CallTimeout
    m.Cancelled = _pyhost.Cancelled
    sys.modules['pyhost'] = m


def _install_iteration(_pyhost):
    """group.iterate(module, func, args): the generator lives here between calls, under a handle;
    each iter_next advances it by at most `n` values (back-pressure is the caller's asking)."""
    import importlib, itertools

    generators = {}
    handles = itertools.count(1)

    def iter_start(module, func, args):
        it = iter(getattr(importlib.import_module(module), func)(*args))
        handle = next(handles)
        generators[handle] = it
        return handle

    def iter_next(handle, n):
        """[done, values]: up to n values; done once the generator is exhausted (it is then
        forgotten). An exception ends the iteration too, and propagates."""
        it = generators.get(handle)
        if it is None:
            raise ValueError('no iteration %r in this interpreter (finished or closed)' % (handle,))
        values = []
        try:
            for _ in range(n):
                values.append(next(it))
        except StopIteration:
            del generators[handle]
            return [True, values]
        except BaseException:
            generators.pop(handle, None)
            raise
        return [False, values]

    def iter_close(handle):
        """The consumer stopped early: the generator is closed (its finally blocks run)."""
        it = generators.pop(handle, None)
        close = getattr(it, 'close', None)
        if close is not None:
            close()
        return None

    _pyhost.iter_start = iter_start
    _pyhost.iter_next = iter_next
    _pyhost.iter_close = iter_close
