"""The harness's side of a tenant, installed as the module `_pyhost_tenant` in the tenant's own
interpreter (ts/harness). Not for tenant code.

Every request arrives as one JSON text through dispatch() and leaves as one: run/call results
(the value, the captured output, any failure as data with a code), preflight, stopping the
tenant's threads. In a tenant host process (isolation 'process') the host calls dispatch; in the
harness's process (isolation 'interpreter') the engine does.

configure() also closes what a tenant could reach the rest of the process through from pure
Python (the interpreter modules), gives it its own os.environ view, and makes its blocking waits
(time.sleep, lock acquires, socket reads) end when the host interrupts the call.
"""
import io
import os
import sys
import time
import _json
import _thread
import _pyhost

# Frames of code compiled with this file name are the harness's: tracebacks leave them out.
HARNESS_FILE = '<pyhost-tenant>'
TENANT_FILE = '<tenant>'

_main = sys.modules['__main__'].__dict__
_compiled = {}
_allocate_lock = _thread.allocate_lock
_get_ident = _thread.get_ident
_real_sleep = time.sleep
_monotonic = time.monotonic
# How often a blocked lock acquire or socket read looks up from its wait (an interrupt lands then).
_SLICE = 0.005


class OutputLimit(BaseException):
    """The call printed far more than its output cap: it is stopped."""


# ---- JSON, through the C codec alone: the json package imports re (and enum, functools, ...),
# about a megabyte in every tenant ----

def _not_jsonable(obj):
    raise TypeError('Object of type %s is not JSON serializable' % type(obj).__qualname__)


def _dumps(obj):
    encode = _json.make_encoder({}, _not_jsonable, _json.encode_basestring_ascii, None, ':', ',', False, False, False)
    return ''.join(encode(obj, 0))


class _ScanContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = None
    memo = {}


_scan = _json.make_scanner(_ScanContext())


def _loads(text):
    value, end = _scan(text, 0)
    _ScanContext.memo.clear()
    if end != len(text):
        raise ValueError('extra data after the JSON value')
    return value


# ---- interruptible waits --------------------------------------------------------------------

_sleepers = {}  # thread ident -> the lock its sleep() waits on


def _wake(ident):
    """Called by the host (in this interpreter, GIL held) right after it raised an interrupt in
    thread `ident`: ends that thread's sleep() now, so the interrupt lands."""
    lock = _sleepers.pop(ident, None)
    if lock is not None:
        try:
            lock.release()
        except RuntimeError:
            pass


def _sleep(secs):
    if secs.__class__ not in (int, float) or not 0 < secs < 1e9:
        return _real_sleep(secs)  # its own checks, and sleep(0) as a yield
    lock = _allocate_lock()
    lock.acquire()
    me = _get_ident()
    _sleepers[me] = lock
    try:
        lock.acquire(True, secs)
    finally:
        _sleepers.pop(me, None)


class _Lock:
    """threading.Lock, with a blocking acquire that wakes every _SLICE so an interrupt lands."""

    __slots__ = ('_lock', '__weakref__')

    def __init__(self):
        self._lock = _allocate_lock()

    def acquire(self, blocking=True, timeout=-1):
        lock = self._lock
        if lock.acquire(False):
            return True
        if not blocking:
            if timeout != -1:
                raise ValueError("can't specify a timeout for a non-blocking call")
            return False
        if timeout < 0:
            if timeout != -1:
                raise ValueError('timeout value must be a non-negative number')
            while not lock.acquire(True, _SLICE):
                pass
            return True
        end = _monotonic() + timeout
        while True:
            left = end - _monotonic()
            if left <= 0:
                return lock.acquire(False)
            if lock.acquire(True, _SLICE if left > _SLICE else left):
                return True

    __enter__ = acquire

    def __exit__(self, *exc):
        self._lock.release()

    def release(self):
        self._lock.release()

    def locked(self):
        return self._lock.locked()

    def _at_fork_reinit(self):
        self._lock._at_fork_reinit()

    def __repr__(self):
        return '<%s %s lock>' % (type(self).__name__, 'locked' if self._lock.locked() else 'unlocked')


def _patch_threading(threading):
    threading.Lock = threading._allocate_lock = _Lock
    threading.RLock = threading._PyRLock  # pure Python, over _allocate_lock: interruptible
    join = threading.Thread.join

    def sliced_join(self, timeout=None):
        if timeout is not None:
            return join(self, timeout)
        while self.is_alive():
            join(self, _SLICE)

    threading.Thread.join = sliced_join


_SLICED_SOCKET_METHODS = ('recv', 'recv_into', 'recvfrom', 'recvfrom_into', '_accept')


def _patch_socket(socket):
    cls = socket.socket

    def sliced(name):
        method = getattr(cls, name)

        def call(self, *args):
            if self.gettimeout() is not None:
                return method(self, *args)
            self.settimeout(_SLICE)
            try:
                while True:
                    try:
                        return method(self, *args)
                    except TimeoutError:
                        pass
            finally:
                self.settimeout(None)

        call.__name__ = name
        call.__doc__ = method.__doc__
        return call

    for name in _SLICED_SOCKET_METHODS:
        setattr(cls, name, sliced(name))


# ---- what a tenant may import ---------------------------------------------------------------

# Modules that reach other interpreters of the process (run code in them, destroy them).
BLOCKED_MODULES = frozenset([
    '_interpreters', '_xxsubinterpreters', '_interpqueues', '_xxinterpqueues', '_interpchannels',
    '_xxinterpchannels', 'concurrent.interpreters', 'interpreters', '_testinternalcapi', '_testcapi',
])
_PATCH_AFTER_IMPORT = {'threading': _patch_threading, 'socket': _patch_socket}


def _blocked(name):
    return ImportError('pyhost: module %s is not available in a harness tenant: it reaches other '
                       'interpreters of the process' % name, name=name)


class _TenantFinder:
    """First on sys.meta_path: refuses the blocked modules, and patches the modules whose waits
    are made interruptible right after they are imported."""

    def __init__(self, patch_waits):
        self.patch_waits = patch_waits

    def find_spec(self, name, path=None, target=None):
        if name in BLOCKED_MODULES:
            raise _blocked(name)
        if self.patch_waits and name in _PATCH_AFTER_IMPORT:
            for finder in sys.meta_path:
                if finder is self:
                    continue
                spec = finder.find_spec(name, path, target) if hasattr(finder, 'find_spec') else None
                if spec is not None:
                    if spec.loader is not None:
                        spec.loader = _PatchingLoader(spec.loader, _PATCH_AFTER_IMPORT[name])
                    return spec
        return None


class _PatchingLoader:
    def __init__(self, loader, patch):
        self.loader = loader
        self.patch = patch

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.patch(module)

    def __getattr__(self, name):
        return getattr(self.loader, name)


def _close_interpreter_modules():
    for name in list(sys.modules):
        if name in BLOCKED_MODULES:
            del sys.modules[name]
    import _imp
    create_builtin = _imp.create_builtin

    def guarded_create_builtin(spec):
        if spec.name in BLOCKED_MODULES:
            raise _blocked(spec.name)
        if spec.name == '_imp':
            # A second _imp would bring the unguarded create_builtin back.
            return _imp
        return create_builtin(spec)

    _imp.create_builtin = guarded_create_builtin


# ---- configuration --------------------------------------------------------------------------

def _install_pyhost_module():
    """`import pyhost` in tenant code: the bootstrap's module (python/bootstrap.py), with the
    harness's name for a call's timeout (`except pyhost.TenantTimeout:` to clean up, then raise)."""
    m = sys.modules.get('pyhost')
    if m is None:
        m = type(sys)('pyhost', 'pyhost, as a harness tenant sees it.')
        m.Interrupted = _pyhost.Interrupted
        m.CallTimeout = _pyhost.CallTimeout
        m.Cancelled = _pyhost.Cancelled
        sys.modules['pyhost'] = m
    m.TenantTimeout = m.CallTimeout


_isolated = False


def isolate(base_env):
    """Makes this interpreter a tenant's own (once; the warm pool does it ahead of need): the
    interpreter modules closed, blocking waits interruptible, os.environ a view of its own that
    keeps only the host variables named in base_env. Not for %{GLOBAL}, which tenants share."""
    global _isolated
    if _isolated:
        return None
    _isolated = True
    # Writes stay in this interpreter's os.environ; the process environment is shared.
    os.putenv = lambda key, value: None
    os.unsetenv = lambda key: None
    keep = set(base_env)
    for key in list(os.environ):
        if key not in keep:
            del os.environ[key]
    _close_interpreter_modules()
    sys.meta_path.insert(0, _TenantFinder(True))
    time.sleep = _sleep
    _pyhost.set_wake_hook(_wake)
    for name, patch in _PATCH_AFTER_IMPORT.items():
        if name in sys.modules:
            patch(sys.modules[name])
    return None


def configure(paths, env, switch_interval, options):
    """sys.path entries first, and the tenant's own os.environ entries; with options['isolate'],
    isolate(options['baseEnv']) if the pool has not."""
    if switch_interval is not None:
        # This interpreter's own GIL: an interrupt must take it from running code, and the
        # running thread lets go only after the switch interval (default 5 ms).
        sys.setswitchinterval(switch_interval)
    _pyhost.add_paths(paths)
    if not hasattr(sys.modules.get('pyhost'), 'TenantTimeout'):
        _install_pyhost_module()
    if options.get('isolate'):
        isolate(options.get('baseEnv', ()))
    for key, value in env.items():
        os.environ[key] = value
    return None


# ---- output capture -------------------------------------------------------------------------

class _Capture(io.TextIOBase):
    """sys.stdout / sys.stderr during a call: keeps the first `cap` characters, counts the rest,
    and stops the call (OutputLimit) once it printed 16 times the cap."""

    encoding = 'utf-8'
    errors = 'backslashreplace'

    def __init__(self, cap, name):
        self.cap = cap
        self.kept = 0
        self.dropped = 0
        self.parts = []
        self._name = name

    @property
    def name(self):
        return '<tenant %s>' % self._name

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError('write() argument must be str, not %s' % type(s).__name__)
        n = len(s)
        room = self.cap - self.kept
        if n <= room:
            self.parts.append(s)
            self.kept += n
        else:
            if room > 0:
                self.parts.append(s[:room])
                self.kept = self.cap
                self.dropped += n - room
            else:
                self.dropped += n
            if self.dropped > 15 * self.cap:
                raise OutputLimit('the call printed more than %d characters to %s' % (16 * self.cap, self._name))
        return n

    def text(self):
        return ''.join(self.parts)


# ---- calls ----------------------------------------------------------------------------------

def _compile(code):
    hit = _compiled.get(code)
    if hit is not None:
        return hit
    import _ast  # the C module: the 'ast' module and its imports cost ~1.5 MiB per tenant (measured)
    tree = compile(code, TENANT_FILE, 'exec', _ast.PyCF_ONLY_AST)
    last = None
    if tree.body and isinstance(tree.body[-1], _ast.Expr):
        last = compile(_ast.Expression(tree.body.pop().value), TENANT_FILE, 'eval')
    hit = (compile(tree, TENANT_FILE, 'exec'), last)
    if len(_compiled) > 256:
        _compiled.clear()
    _compiled[code] = hit
    return hit


def _qualified_name(t):
    return t.__qualname__ if t.__module__ in ('builtins', '__main__') else t.__module__ + '.' + t.__qualname__


def _error_code(e, interrupted):
    if isinstance(e, _pyhost.CallTimeout) or (interrupted == 'timeout' and isinstance(e, _pyhost.Interrupted)):
        return 'TIMEOUT'
    if isinstance(e, _pyhost.Cancelled):
        return 'CANCELLED'
    if isinstance(e, SystemExit):
        return 'EXIT'
    if isinstance(e, MemoryError):
        return 'MEMORY'
    if isinstance(e, OutputLimit):
        return 'OUTPUT_LIMIT'
    return 'EXCEPTION'


def _format(e):
    """The traceback as Python prints it, without the harness's own frames (where it called the
    tenant's code, and in the waits it made interruptible): a list of lines."""
    import traceback
    te = traceback.TracebackException(type(e), e, e.__traceback__)
    pending = [te]
    while pending:
        t = pending.pop()
        t.stack = traceback.StackSummary.from_list([f for f in t.stack if f.filename != HARNESS_FILE])
        pending.extend(c for c in (t.__cause__, t.__context__) if c is not None)
    return te.format()


def _error(e, interrupted):
    code = _error_code(e, interrupted)
    if code == 'EXIT':
        status = e.code
        message = 'exit status %d' % (status or 0) if status is None or isinstance(status, int) else str(status)
    else:
        message = str(e) or ('out of memory' if code == 'MEMORY' else '')
    return {
        'code': code,
        'type': _qualified_name(type(e)),
        'message': message,
        'traceback': ''.join(_format(e)),
    }


def _interrupt_error(interrupted):
    code = 'TIMEOUT' if interrupted == 'timeout' else 'CANCELLED'
    cls = _pyhost.CallTimeout if interrupted == 'timeout' else _pyhost.Cancelled
    return {'code': code, 'type': _qualified_name(cls), 'message': 'the call was interrupted (%s); '
            'its code caught the interrupt' % interrupted, 'traceback': ''}


def _capture(fn, limits):
    out = _Capture(limits['maxOutput'], 'stdout')
    err = _Capture(limits['maxOutput'], 'stderr')
    saved = sys.stdout, sys.stderr
    value = error = None
    pending = True
    t0 = time.perf_counter()
    # An interrupt can land anywhere in this loop until stop_interrupts() has run (the host
    # raises it again every few ms until then): wherever it lands, it is kept as the outcome.
    while True:
        try:
            if pending:
                pending = False
                sys.stdout, sys.stderr = out, err
                try:
                    value = fn()
                except BaseException as e:
                    error = e
            interrupted = _pyhost.stop_interrupts()
            break
        except BaseException as e:
            if error is None:
                error = e
    ms = (time.perf_counter() - t0) * 1000.0
    sys.stdout, sys.stderr = saved
    result = {
        'value': None,
        'stdout': out.text(),
        'stderr': err.text(),
        'stdoutTruncated': out.dropped > 0,
        'stderrTruncated': err.dropped > 0,
        'error': None,
        'ms': ms,
    }
    if error is not None:
        result['error'] = _error(error, interrupted)
    elif interrupted is not None:
        result['error'] = _interrupt_error(interrupted)
    else:
        try:
            text = _dumps(value)
        except (TypeError, ValueError, RecursionError) as e:
            result['error'] = {'code': 'EXCEPTION', 'type': 'TypeError', 'traceback': '',
                               'message': 'result of type %s is not JSON-able data: %s' % (_qualified_name(type(value)), e)}
        else:
            if len(text) > limits['maxValue']:
                result['error'] = {'code': 'OUTPUT_LIMIT', 'type': 'pyhost.OutputLimit', 'traceback': '',
                                   'message': 'the result is %d characters of JSON, over the limit of %d' % (len(text), limits['maxValue'])}
            else:
                result['value'] = _Raw(text)
    return result


class _Raw(str):
    """A value already encoded as JSON."""


def _encode(result):
    raw = result.pop('value')
    text = _dumps(result)  # a dict: ends with '}'
    return text[:-1] + ', "value": ' + (raw if isinstance(raw, _Raw) else 'null') + '}'


def run(code, limits):
    """Runs statements in the tenant's __main__; a final expression's value is the result.
    Returns the result as JSON text."""
    def go():
        body, last = _compile(code)
        exec(body, _main)
        return eval(last, _main) if last is not None else None
    return _encode(_capture(go, limits))


def call(target, args, kwargs, limits):
    """Calls 'pkg.module:function' (a dotted attribute path after the colon). Returns the result
    as JSON text."""
    def go():
        module, _, attr = target.partition(':')
        obj = __import__(module, fromlist=['_'])
        for part in (attr or 'main').split('.'):
            obj = getattr(obj, part)
        return obj(*args, **kwargs)
    return _encode(_capture(go, limits))


def preflight(names):
    """Imports each module; returns [name, error] for those that fail (refusals included)."""
    failed = []
    for name in names:
        try:
            __import__(name)
        except ImportError as e:
            failed.append([name, '%s: %s' % (type(e).__name__, e)])
    return failed


def stop_threads(wait):
    """Stops the threads the tenant started (threading.Thread), raising _pyhost.Interrupted in
    them again and again for up to `wait` seconds. Returns how many are still alive."""
    threading = sys.modules.get('threading')
    if threading is None:
        return 0
    me = _get_ident()
    threading.excepthook = lambda args: None  # no "Exception in thread" for each one stopped
    # Not the tenant's: the thread this call runs on (a dummy), and the interpreter's main
    # thread, which is the host's thread that created the interpreter.
    mine = (me, threading.main_thread().ident, None)
    end = _monotonic() + wait
    while True:
        alive = [t for t in threading.enumerate()
                 if t.ident not in mine and not isinstance(t, threading._DummyThread) and t.is_alive()]
        if not alive or _monotonic() >= end:
            return len(alive)
        for t in alive:
            _pyhost.raise_in_thread(t.ident, _pyhost.Interrupted)
            _wake(t.ident)
        _real_sleep(_SLICE)


_OPS = {'run': run, 'call': call, 'preflight': preflight, 'configure': configure, 'stop_threads': stop_threads}
_TEXT_RESULTS = ('run', 'call')


def dispatch(text):
    """One request as JSON text ([op, *args]); its result as JSON text."""
    op, *args = _loads(text)
    result = _OPS[op](*args)
    return result if op in _TEXT_RESULTS else _dumps(result)


def dispatch_args(op, *args):
    """dispatch() for a host that passes the arguments as values (the harness's own process)."""
    result = _OPS[op](*args)
    return result if op in _TEXT_RESULTS else _dumps(result)
