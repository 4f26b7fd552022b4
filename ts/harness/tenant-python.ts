/**
 * The Python side of a tenant: a module `_pyhost_tenant` installed in each tenant's interpreter.
 * `run` executes code in the tenant's `__main__` (the value of a final expression is returned),
 * `call` calls 'pkg.mod:func'; both capture stdout/stderr for the call and report errors and
 * timing as data. `configure` applies the tenant's sys.path and its own os.environ view.
 */
export const TENANT_MODULE_SOURCE = String.raw`
import io, os, sys, time

_main = sys.modules['__main__'].__dict__
_compiled = {}


def configure(paths, env, switch_interval=None):
    import _pyhost
    if switch_interval is not None:
        # This interpreter's own GIL: a timeout must take it from running code, and the running
        # thread lets go only after the switch interval (default 5 ms, which a timeout adds).
        sys.setswitchinterval(switch_interval)
    _pyhost.add_paths(paths)  # like site.addsitedir, first on sys.path
    # The tenant's os.environ is its own view: writes no longer reach the process environment
    # (shared by every tenant), only this interpreter's os.environ.
    os.putenv = lambda key, value: None
    os.unsetenv = lambda key: None
    for key, value in env.items():
        os.environ[key] = value


_PLAIN = (bool, int, float, str)


def _jsonable(value):
    if value is None or type(value) in _PLAIN:
        return value
    import json
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as e:
        raise TypeError('result of type %s is not JSON-able data: %s' % (type(value).__qualname__, e)) from None


def _error(e):
    import traceback
    t = type(e)
    name = t.__qualname__ if t.__module__ in ('builtins', '__main__') else t.__module__ + '.' + t.__qualname__
    return {'type': name, 'message': str(e), 'traceback': ''.join(traceback.format_exception(t, e, e.__traceback__))}


def _compile(code):
    hit = _compiled.get(code)
    if hit is not None:
        return hit
    import _ast  # the C module: the 'ast' module and its imports cost ~1.5 MiB per tenant (measured)
    tree = compile(code, '<tenant>', 'exec', _ast.PyCF_ONLY_AST)
    last = None
    if tree.body and isinstance(tree.body[-1], _ast.Expr):
        last = compile(_ast.Expression(tree.body.pop().value), '<tenant>', 'eval')
    hit = (compile(tree, '<tenant>', 'exec'), last)
    if len(_compiled) > 256:
        _compiled.clear()
    _compiled[code] = hit
    return hit


def _capture(fn):
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    result = {'value': None, 'error': None}
    t0 = time.perf_counter()
    try:
        result['value'] = _jsonable(fn())
    except Exception as e:
        result['error'] = _error(e)
    finally:
        result['ms'] = (time.perf_counter() - t0) * 1000.0
        sys.stdout, sys.stderr = saved
    result['stdout'] = out.getvalue()
    result['stderr'] = err.getvalue()
    return result


def run(code):
    def go():
        body, last = _compile(code)
        exec(body, _main)
        return eval(last, _main) if last is not None else None
    return _capture(go)


def call(target, args, kwargs):
    def go():
        module, _, attr = target.partition(':')
        obj = __import__(module, fromlist=['_'])
        for part in (attr or 'main').split('.'):
            obj = getattr(obj, part)
        return obj(*args, **kwargs)
    return _capture(go)


def preflight(names):
    """Imports each module; returns [name, error] for those that fail (refusals included)."""
    failed = []
    for name in names:
        try:
            __import__(name)
        except ImportError as e:
            failed.append([name, '%s: %s' % (type(e).__name__, e)])
    return failed
`;

/**
 * Python that installs `_pyhost_tenant` in an interpreter unless it is there: the warm pool runs
 * it in every interpreter it makes (so a tenant's imports are paid ahead of need), and a tenant
 * from outside the pool runs it first.
 */
export const TENANT_INSTALLER = `import sys, types
if '_pyhost_tenant' not in sys.modules:
    m = types.ModuleType('_pyhost_tenant')
    exec(${JSON.stringify(TENANT_MODULE_SOURCE)}, m.__dict__)
    sys.modules['_pyhost_tenant'] = m
`;
