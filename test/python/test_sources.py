"""The Python sources under python/, tested as Python (run by test/python-sources.test.ts under
each Python pyhost builds for). Sources that need the native _pyhost module (bootstrap,
pyhost_tenant) are compiled and checked here and exercised by the engine and harness tests."""
import ast
import base64
import io
import json
import os
import sys
import tempfile
import unittest
import warnings

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'python')
SOURCES = sorted(f for f in os.listdir(ROOT) if f.endswith('.py'))


def load(name):
    """python/<name>.py executed in a fresh namespace, as pyhost runs it."""
    path = os.path.join(ROOT, name + '.py')
    with open(path) as f:
        code = compile(f.read(), path, 'exec')
    namespace = {'__name__': '_pyhost_test_' + name}
    exec(code, namespace)
    return namespace


class Sources(unittest.TestCase):
    def test_compile_without_warnings(self):
        self.assertGreaterEqual(len(SOURCES), 6, SOURCES)
        for name in SOURCES:
            with open(os.path.join(ROOT, name)) as f, warnings.catch_warnings():
                warnings.simplefilter('error')
                compile(f.read(), name, 'exec')

    def test_every_import_is_used(self):
        for name in SOURCES:
            with open(os.path.join(ROOT, name)) as f:
                tree = ast.parse(f.read())
            imported = set()
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    for alias in node.names:
                        imported.add((alias.asname or alias.name).split('.')[0])
            used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
            self.assertEqual(imported - used, set(), name)


class FileWrapper(unittest.TestCase):
    def test_blocks_and_close(self):
        FileWrapper = load('file_wrapper')['FileWrapper']
        data = io.BytesIO(b'x' * 10)
        wrapper = FileWrapper(data, 4)
        self.assertEqual(list(wrapper), [b'xxxx', b'xxxx', b'xx'])
        wrapper.close()
        self.assertTrue(data.closed)
        self.assertFalse(hasattr(FileWrapper(iter([]), 4), 'close'))


class AuthHooks(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.script = os.path.join(self.dir.name, 'hooks.py')
        with open(self.script, 'w') as f:
            f.write('def check_password(environ, user, password):\n'
                    '    return {"alice": password == "pw"}.get(user)\n'
                    'def groups_for_user(environ, user):\n'
                    '    return [b"staff", "caf\\u00e9"] if user == "alice" else [1]\n'
                    'def allow_access(environ, host):\n'
                    '    return "yes"\n')
        self.app = load('auth_hooks')['application']

    def tearDown(self):
        self.dir.cleanup()

    def call(self, function, **extra):
        call = {'script': self.script, 'function': function, 'kind': 'auth', 'host': '10.0.0.1'}
        call.update({k: base64.b64encode(v.encode()).decode() for k, v in extra.items()})
        seen = []
        body = b''.join(self.app({'HTTP_PYHOST_AUTH_HOOK': json.dumps(call), 'wsgi.input': io.BytesIO()},
                                 lambda status, headers: seen.append(status)))
        self.assertEqual(seen, ['200 OK'])
        return json.loads(body)

    def test_check_password(self):
        self.assertEqual(self.call('check_password', user='alice', password='pw'), {'result': True})
        self.assertEqual(self.call('check_password', user='alice', password='no'), {'result': False})
        self.assertEqual(self.call('check_password', user='bob', password='pw'), {'result': None})

    def test_groups_are_latin1_text(self):
        self.assertEqual(self.call('groups_for_user', user='alice'), {'result': ['staff', 'caf\u00e9']})
        self.assertIn('must be an iterable sequence of byte strings', self.call('groups_for_user', user='bob')['error'])

    def test_answers_are_checked_and_errors_named(self):
        self.assertIn('must a boolean or None', self.call('allow_access')['error'])
        os.remove(self.script)
        with open(self.script, 'w') as f:
            f.write('x = 1\n')
        os.utime(self.script, (1, 1))  # a new modification time: the module is loaded again
        self.assertIn("does not provide 'check_password'", self.call('check_password', user='a', password='b')['error'])


class DoctorProbe(unittest.TestCase):
    def setUp(self):
        self.probe = load('doctor_probe')

    def test_extensions(self):
        self.assertFalse(self.probe['_pyhost_is_extension']('json'))
        self.assertFalse(self.probe['_pyhost_is_extension']('no_such_module_here'))
        loaded, failed = json.loads(self.probe['_pyhost_try_imports'](['_ctypes', 'json', 'no_such_module_here']))
        self.assertEqual((loaded, failed), (['_ctypes'], []))
        names = [name for name, _ in self.probe['_pyhost_loaded_extensions']()]
        self.assertIn('_ctypes', names)

    def test_import_by_origin(self):
        import colorsys
        origin = colorsys.__file__
        sys.modules.pop('pyhost_probe_alias', None)
        self.probe['_pyhost_import']('pyhost_probe_alias', origin)
        try:
            self.assertEqual(sys.modules['pyhost_probe_alias'].__file__, origin)
        finally:
            del sys.modules['pyhost_probe_alias']

    def test_symbol_lookup(self):
        found = self.probe['_pyhost_symbol_in_libpython']('Py_Initialize')
        # Statically linked builds have no libpython to look in (None).
        self.assertIn(found, (True, None))
        if found:
            self.assertFalse(self.probe['_pyhost_symbol_in_libpython']('pyhost_no_such_symbol'))


if __name__ == '__main__':
    unittest.main()
