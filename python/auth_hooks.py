"""pyhost's runner of mod_wsgi auth hooks: a WSGI application run as an internal request in the hook's
process group and application group (see ts/access/hook-adaptor.ts, which writes this file out)."""
import base64
import hashlib
import json
import os
import sys
import threading
import traceback
import types

_lock = threading.Lock()
_DROP = ('wsgi.input', 'wsgi.file_wrapper', 'wsgi.input_terminated', 'HTTP_PYHOST_AUTH_HOOK')


def _load(script):
    name = '_mod_wsgi_' + hashlib.md5(script.encode('utf-8')).hexdigest()
    mtime = os.stat(script).st_mtime
    with _lock:
        module = sys.modules.get(name)
        if module is not None and getattr(module, '__mtime__', None) == mtime:
            return module
        with open(script, 'rb') as f:
            code = compile(f.read(), script, 'exec', dont_inherit=True)
        module = types.ModuleType(name)
        module.__file__ = script
        sys.modules[name] = module
        try:
            exec(code, module.__dict__)
        except BaseException:
            del sys.modules[name]
            raise
        module.__mtime__ = mtime
        return module


def _text(value):
    # mod_wsgi passes user names and passwords as str decoded from UTF-8 (strictly).
    return base64.b64decode(value).decode('utf-8')


def _call(call, environ):
    module = _load(call['script'])
    function = call['function']
    func = getattr(module, function, None)
    if func is None:
        raise LookupError("Target WSGI %s script '%s' does not provide '%s'" % (call['kind'], call['script'], function))
    if function == 'allow_access':
        result = func(environ, call['host'])
        if result is not None and not isinstance(result, bool):
            raise TypeError("Indicator of host accessibility returned from '%s' must a boolean or None." % call['script'])
        return result
    user = _text(call['user'])
    if function == 'check_password':
        result = func(environ, user, _text(call['password']))
        if result is None or isinstance(result, (bool, str)):
            return result
        raise TypeError('Basic auth provider must return True, False None or user name as string')
    groups = []
    for item in func(environ, user):
        if isinstance(item, str):
            item.encode('latin-1')
        elif isinstance(item, bytes):
            item = item.decode('latin-1')
        else:
            raise TypeError("Groups for user returned from '%s' must be an iterable sequence of byte strings." % call['script'])
        groups.append(item)
    return groups


def application(environ, start_response):
    call = json.loads(environ['HTTP_PYHOST_AUTH_HOOK'])
    hook_environ = {k: v for k, v in environ.items() if k not in _DROP}
    try:
        out = {'result': _call(call, hook_environ)}
    except Exception:
        out = {'error': traceback.format_exc()}
    body = json.dumps(out).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]
