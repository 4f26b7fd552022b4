/**
 * The native core (issue 2) against one Python, in this test process's runtime: start, sys
 * facts, conversions, errors, isolation, paths, output, workers, queue limits, GIL kinds,
 * %{GLOBAL} fallback and bad input. Registered by core-311.test.ts and core-313.test.ts.
 * Everything that needs a runtime of its own lives in lifecycle-suite.ts (child processes).
 */
import type { ExecutionContext, TestFn } from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Engine, PyhostError, PythonError, type Group, type GroupOptions, type LogRecord } from '../ts/index.js';
import { buildSinglePhaseExtension, SINGLE_PHASE_MODULE } from './helpers/extension.js';
import { setSchedulerPolicy, type SchedulerPolicy } from '../ts/scheduler/index.js';
import { minorOf, PY311, PY311_PYENV, PY313, pythonFacts, pythonMissing, requireAllPythons, skipUnlessPython } from './helpers/pythons.js';

export interface CoreSuiteOptions {
  /** The Python executable the engine embeds. */
  python: string;
  /** Short label for test titles, e.g. '3.13'. */
  label: string;
}

/** Python modules written to the temporary site directories. */
const PROBE_PY = String.raw`
import mmap, os, socket, sys, threading, time

def echo(x):
    return x

def describe(x):
    """Type names as Python sees them, recursively."""
    if isinstance(x, list):
        return ['list', [describe(i) for i in x]]
    if isinstance(x, dict):
        return ['dict', {k: describe(v) for k, v in x.items()}]
    return [type(x).__name__, x]

def kwargs_of(*args, **kwargs):
    return {'args': list(args), 'kwargs': kwargs}

def interp_id():
    try:
        import _interpreters
        return int(_interpreters.get_current()[0])
    except ImportError:
        import _xxsubinterpreters
        return int(_xxsubinterpreters.get_current())

def interp_gil():
    import _interpreters
    cfg = _interpreters.get_config(_interpreters.get_current()[0])
    return {'gil': cfg.gil, 'use_main_obmalloc': cfg.use_main_obmalloc,
            'check_multi_interp_extensions': cfg.check_multi_interp_extensions}

def wait_gate(port):
    """Blocks (GIL released) until the test's gate server sends a byte."""
    with socket.create_connection(('127.0.0.1', port)) as s:
        return s.recv(1).decode()

def _map(path):
    with open(path, 'r+b') as f:
        return mmap.mmap(f.fileno(), 16)

def hold_gil_until_flag(path, timeout, switch_interval=None):
    """Runs pure Python, never releasing this interpreter's GIL voluntarily, until byte 0 of the
    shared file is set or timeout seconds pass. Byte 1 tells others the loop has begun. With
    switch_interval, a thread waiting for the same GIL cannot take it for that many seconds."""
    m = _map(path)
    old = sys.getswitchinterval()
    if switch_interval:
        sys.setswitchinterval(switch_interval)
        # A thread already waiting for the GIL keeps the interval it started with and may still
        # force a switch once: let that happen before the loop announces itself, so every wait
        # for the GIL after byte 1 is set uses the new interval.
        settle = time.monotonic() + 3 * old
        while time.monotonic() < settle:
            pass
    try:
        m[1] = 1
        end = time.monotonic() + timeout
        while m[0] == 0:
            if time.monotonic() > end:
                return 'timeout'
        return 'flag'
    finally:
        sys.setswitchinterval(old)
        m.close()

def set_flag_when_started(path, timeout):
    """Waits for hold_gil_until_flag to begin, then sets its flag."""
    m = _map(path)
    try:
        end = time.monotonic() + timeout
        while m[1] == 0:
            if time.monotonic() > end:
                return 'never started'
            time.sleep(0.001)
        m[0] = 1
        return 'set'
    finally:
        m.close()

class ProbeError(Exception):
    pass

class Outer:
    class Inner(Exception):
        pass

def fail_inner():
    raise Outer.Inner('inner failure')

def fail_chained():
    try:
        {}['missing']
    except KeyError as e:
        raise ProbeError('wrapped') from e
`;

const COUNTER_PY = `
count = 0

def bump():
    global count
    count += 1
    return count
`;

export function registerCoreSuite(test: TestFn, opts: CoreSuiteOptions): void {
  const { python, label } = opts;
  if (skipUnlessPython(test, python, `core ${label}`)) return;
  const facts = pythonFacts(python);
  const [major, minor] = facts.versionInfo;
  const hasOwnGil = major > 3 || (major === 3 && minor >= 12);
  const title = (s: string) => `[${label}] ${s}`;

  const root = fs.mkdtempSync(path.join(os.tmpdir(), `pyhost-core-${label}-`));
  const siteA = path.join(root, 'site-a');
  const siteB = path.join(root, 'site-b');
  const groupOnly = path.join(root, 'group-only');
  const groupOnlyPth = path.join(root, 'group-only-pth');
  for (const d of [siteA, siteB, groupOnly, groupOnlyPth]) fs.mkdirSync(d);
  fs.writeFileSync(path.join(siteA, 'pyhost_probe.py'), PROBE_PY);
  fs.writeFileSync(path.join(siteA, 'pyhost_counter.py'), COUNTER_PY);
  fs.writeFileSync(path.join(siteA, 'pyhost_iso_mod.py'), 'value = "iso"\n');
  // Relative .pth lines resolve against the site directory, as site.addsitedir does.
  fs.writeFileSync(path.join(siteA, 'pyhost_extra.pth'), '# comment lines are skipped\n../site-b\n');
  fs.writeFileSync(path.join(siteB, 'pyhost_pth_mod.py'), 'where = "site-b"\n');
  fs.writeFileSync(path.join(groupOnly, 'pyhost_group_mod.py'), 'where = "group-only"\n');
  fs.writeFileSync(path.join(groupOnly, 'pyhost_group.pth'), `${groupOnlyPth}\n`);
  fs.writeFileSync(path.join(groupOnlyPth, 'pyhost_group_pth_mod.py'), 'where = "group-only-pth"\n');

  // The single-phase fixture, on the engine's pythonPath (so every interpreter can find it),
  // built under one module name per test: each test then imports a module that no interpreter of
  // this process has loaded before, whatever order the tests run in.
  const EXT = {
    own: SINGLE_PHASE_MODULE,
    strict: 'pyhost_singlephase_strict',
    app: 'pyhost_singlephase_app',
    error: 'pyhost_singlephase_error',
    legacy: 'pyhost_singlephase_legacy',
    loaded: 'pyhost_singlephase_loaded',
  };
  const ext = (() => {
    try {
      return Object.values(EXT).map((m) => buildSinglePhaseExtension(python, m))[0];
    } catch (err) {
      return err as Error;
    }
  })();
  // An application directory for one group only, whose code imports the fixture.
  const appDir = path.join(root, 'group-app');
  fs.mkdirSync(appDir);
  fs.writeFileSync(path.join(appDir, 'pyhost_group_app.py'), `import ${EXT.app}\n\ndef run():\n    return ${EXT.app}.bump()\n`);

  const records: LogRecord[] = [];
  let engine: Engine;

  test.before(async () => {
    const pythonPath = [siteA, ...(ext instanceof Error ? [] : [ext.dir])];
    engine = await Engine.start({ python, pythonPath, logger: (r) => records.push(r) });
  });
  test.after.always(async () => {
    await engine?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const logOf = (group: string, level?: LogRecord['level']) =>
    records.filter((r) => r.group === group && (!level || r.level === level)).map((r) => r.message);

  /** A file of 16 zero bytes shared (mmap) between interpreters and Node. */
  const flagFile = (name: string) => {
    const f = path.join(root, `${name}.flag`);
    fs.writeFileSync(f, Buffer.alloc(16));
    return f;
  };

  // ---------------------------------------------------------------------------------------------
  // Start and identity

  test(title('Engine.start embeds the requested Python: pythonVersion, sys.version, executable, prefix'), async (t) => {
    t.is(engine.pythonVersion, facts.version);
    const g = engine.group('%{GLOBAL}');
    t.is(await g.eval('__import__("platform").python_version()'), facts.version);
    t.deepEqual(await g.eval('list(__import__("sys").version_info[:3])'), facts.versionInfo);
    t.is(await g.eval('__import__("sys").executable'), facts.executable);
    t.is(engine.python, facts.executable);
    t.is(await g.eval('__import__("sys").prefix'), facts.prefix);
    t.is(await g.eval('__import__("sys").base_prefix'), facts.basePrefix);
  });

  test(title("sys.argv == ['pyhost'] and sys.executable in %{GLOBAL} and in a sub-interpreter"), async (t) => {
    for (const g of [engine.group('%{GLOBAL}'), engine.group('argv-sub')]) {
      t.deepEqual(await g.eval('__import__("sys").argv'), ['pyhost'], g.name);
      t.is(await g.eval('__import__("sys").executable'), facts.executable, g.name);
      t.is(await g.eval('__import__("sys").flags.optimize'), 0, g.name);
    }
  });

  test(title("Python installs no signal handlers (Node owns signals): SIGINT is not Python's"), async (t) => {
    const g = engine.group('%{GLOBAL}');
    t.false(await g.eval('__import__("signal").getsignal(__import__("signal").SIGINT) is __import__("signal").default_int_handler'));
  });

  test(title('C extensions of the stdlib import in %{GLOBAL}, shared and own-GIL groups (libpython is global)'), async (t) => {
    const expr = '[__import__(m).__name__ for m in ("ssl", "sqlite3", "decimal", "ctypes", "_json", "hashlib", "zlib", "select")]';
    const groups = [engine.group('%{GLOBAL}'), engine.group('cext-shared')];
    if (hasOwnGil) groups.push(engine.group('cext-own', { gil: 'own' }));
    for (const g of groups) {
      t.deepEqual(await g.eval(expr), ['ssl', 'sqlite3', 'decimal', 'ctypes', '_json', 'hashlib', 'zlib', 'select'], g.name);
    }
    t.true(await engine.group('%{GLOBAL}').eval('__import__("ssl").OPENSSL_VERSION.startswith("OpenSSL")'));
  });

  if (facts.hasNumpy) {
    test(title('numpy (installed for this Python) imports and computes in %{GLOBAL}'), async (t) => {
      t.deepEqual(await engine.group('%{GLOBAL}').eval('__import__("numpy").arange(6).reshape(2, 3).sum(axis=0).tolist()'), [3, 5, 7]);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Conversions

  test(title('eval converts Python scalars to JS: None, bool, int (bigint past 2^53), float, str, bytes'), async (t) => {
    const g = engine.group('%{GLOBAL}');
    t.is(await g.eval('None'), null);
    t.is(await g.eval('True'), true);
    t.is(await g.eval('False'), false);
    t.is(await g.eval('0'), 0);
    t.is(await g.eval('-42'), -42);
    t.is(await g.eval('2**53 - 1'), Number.MAX_SAFE_INTEGER);
    t.is(await g.eval('-(2**53 - 1)'), Number.MIN_SAFE_INTEGER);
    t.is(await g.eval('2**53'), 2n ** 53n);
    t.is(await g.eval('-(2**53)'), -(2n ** 53n));
    t.is(await g.eval('2**63 - 1'), 2n ** 63n - 1n);
    t.is(await g.eval('-2**63'), -(2n ** 63n));
    t.is(await g.eval('2**64'), 2n ** 64n);
    t.is(await g.eval('-(3**100)'), -(3n ** 100n));
    t.is(await g.eval('1.5'), 1.5);
    t.is(await g.eval('-0.1'), -0.1);
    t.is(await g.eval('float("inf")'), Infinity);
    t.is(await g.eval('float("-inf")'), -Infinity);
    t.true(Number.isNaN(await g.eval('float("nan")')));
    t.is(await g.eval('1e308 * 10'), Infinity);
    t.is(await g.eval('""'), '');
    t.is(await g.eval('"h\\u00e9llo w\\u00f6rld \\u4e16\\u754c \\U0001F600"'), 'héllo wörld 世界 😀');
    t.is(await g.eval('"a\\x00b"'), 'a\u0000b');
    const b = await g.eval<Buffer>('bytes(range(256))');
    t.true(Buffer.isBuffer(b));
    t.deepEqual([...b], [...Array(256).keys()]);
    const ba = await g.eval<Buffer>('bytearray(b"\\x00\\xffz")');
    t.true(Buffer.isBuffer(ba));
    t.deepEqual([...ba], [0, 255, 122]);
    t.deepEqual(await g.eval('b""'), Buffer.alloc(0));
  });

  test(title('eval converts containers: list, tuple -> array, dict with str keys -> object, nested'), async (t) => {
    const g = engine.group('%{GLOBAL}');
    t.deepEqual(await g.eval('[]'), []);
    t.deepEqual(await g.eval('()'), []);
    t.deepEqual(await g.eval('{}'), {});
    t.deepEqual(await g.eval('[1, "two", 3.5, None, True]'), [1, 'two', 3.5, null, true]);
    t.deepEqual(await g.eval('(1, (2, (3,)))'), [1, [2, [3]]]);
    const d = await g.eval<Record<string, unknown>>('{"z": 1, "a": 2, "\\u00e9": 3, "": 4}');
    t.deepEqual(d, { z: 1, a: 2, é: 3, '': 4 });
    t.deepEqual(Object.keys(d), ['z', 'a', 'é', ''], 'dict order is kept');
    t.deepEqual(
      await g.eval('{"users": [{"name": "ann", "tags": ("x", "y"), "id": 2**60, "raw": b"\\x01"}], "n": None}'),
      { users: [{ name: 'ann', tags: ['x', 'y'], id: 2n ** 60n, raw: Buffer.from([1]) }], n: null },
    );
  });

  test(title('a dict key "__proto__" stays an own key and does not replace the prototype'), async (t) => {
    const r = await engine.group('%{GLOBAL}').eval<Record<string, unknown>>('{"__proto__": {"polluted": 1}, "a": 2}');
    t.is(Object.getPrototypeOf(r), Object.prototype, 'the result is a plain object');
    t.deepEqual(Object.keys(r), ['__proto__', 'a']);
    t.deepEqual(Object.getOwnPropertyDescriptor(r, '__proto__')?.value, { polluted: 1 });
  });

  test(title('large values convert whole (8 MiB bytes and str, 100k-item list)'), async (t) => {
    const g = engine.group('conv-large');
    const b = await g.eval<Buffer>('bytes(range(256)) * (32 * 1024)');
    t.is(b.length, 8 << 20);
    t.is(b[(8 << 20) - 1], 255);
    const s = await g.eval<string>('"\u00e9" * (4 << 20)');
    t.is(s.length, 4 << 20);
    const l = await g.eval<number[]>('list(range(100000))');
    t.is(l.length, 100000);
    t.is(l[99999], 99999);
    const back = await g.call<Buffer>('pyhost_probe', 'echo', [Buffer.alloc(8 << 20, 7)]);
    t.is(back.length, 8 << 20);
    t.is(back[12345], 7);
  });

  test(title('2,000 concurrent calls over three groups each get their own result'), async (t) => {
    const groups = [engine.group('%{GLOBAL}'), engine.group('many-a'), engine.group('many-b', { threads: 2 })];
    const results = await Promise.all(
      Array.from({ length: 2000 }, (_, i) => groups[i % 3].call('pyhost_probe', 'echo', [{ i, s: `v${i}` }])),
    );
    t.deepEqual(results, Array.from({ length: 2000 }, (_, i) => ({ i, s: `v${i}` })));
  });

  test(title('ten sub-interpreters created at once all start and are distinct'), async (t) => {
    const groups = Array.from({ length: 10 }, (_, i) => engine.group(`burst-${i}`, { threads: 1 }));
    const ids = await Promise.all(groups.map((g) => g.call<number>('pyhost_probe', 'interp_id')));
    t.is(new Set(ids).size, 10);
    t.false(ids.includes(0));
    t.deepEqual(await Promise.all(groups.map((g, i) => g.eval(`${i} * 2`))), groups.map((_, i) => i * 2));
  });

  test(title('call passes JS values to Python as the matching types'), async (t) => {
    const g = engine.group('conv-in');
    const cases: [unknown, unknown][] = [
      [null, ['NoneType', null]],
      [undefined, ['NoneType', null]],
      [true, ['bool', true]],
      [false, ['bool', false]],
      [7, ['int', 7]],
      [-(2 ** 53 - 1), ['int', -(2 ** 53 - 1)]],
      [2.5, ['float', 2.5]],
      [2n ** 70n, ['int', 2n ** 70n]],
      [-5n, ['int', -5]],
      ['héllo 世界 😀', ['str', 'héllo 世界 😀']],
      ['', ['str', '']],
      [Buffer.from([0, 1, 255]), ['bytes', Buffer.from([0, 1, 255])]],
      [new Uint8Array([9, 8]), ['bytes', Buffer.from([9, 8])]],
      [[1, 'a', [null]], ['list', [['int', 1], ['str', 'a'], ['list', [['NoneType', null]]]]]],
      [{ k: { n: 1.25 } }, ['dict', { k: ['dict', { n: ['float', 1.25] }] }]],
    ];
    for (const [input, expected] of cases) {
      t.deepEqual(await g.call('pyhost_probe', 'describe', [input]), expected, `describe(${String(input)})`);
    }
    t.is(await g.call('pyhost_probe', 'describe', [2 ** 53]).then((r) => (r as unknown[])[0]), 'float', 'a JS number past 2^53 is a float');
  });

  test(title('call round-trips nested values and passes kwargs; dotted function paths resolve'), async (t) => {
    const g = engine.group('conv-roundtrip');
    const value = { a: [1, 2.5, 'x', null, true, { b: Buffer.from('hi'), c: [[], {}] }], big: 2n ** 64n, s: 'ü' };
    t.deepEqual(await g.call('pyhost_probe', 'echo', [value]), value);
    t.deepEqual(await g.call('pyhost_probe', 'kwargs_of', [1, 'two'], { x: [3], y: null }), { args: [1, 'two'], kwargs: { x: [3], y: null } });
    t.is(await g.call('os.path', 'join', ['/a', 'b']), '/a/b');
    t.is(await g.call('os', 'path.basename', ['/x/y.txt']), 'y.txt');
    t.is(await g.call('json', 'dumps', [{ k: [1, 2] }]), '{"k": [1, 2]}');
  });

  test(title('eval results that do not convert reject with ERR_CONVERSION naming the type'), async (t) => {
    const g = engine.group('%{GLOBAL}');
    const cases: [string, RegExp][] = [
      ['object()', /cannot convert object to JavaScript/],
      ['{1: "a"}', /dict key 1 is a int; only str keys/],
      ['{("t",): 1}', /dict key .* is a tuple/],
      ['{1, 2}', /cannot convert set\b/],
      ['[1, {"k": {2}}]', /result\[1\]\['k'\]: cannot convert set/],
      ['__import__("decimal").Decimal("1.5")', /cannot convert decimal\.Decimal/],
      ['complex(1, 2)', /cannot convert complex/],
      ['len', /cannot convert builtin_function_or_method/],
    ];
    for (const [expr, re] of cases) {
      const err = await t.throwsAsync(g.eval(expr), { instanceOf: PyhostError }, expr);
      t.is(err?.code, 'ERR_CONVERSION', expr);
      t.regex(err?.message ?? '', re, expr);
      t.regex(err?.message ?? '', /only None, bool, int, float, str, bytes, list, tuple and dict with str keys|only str keys/, expr);
    }
    await g.exec('pyhost_cycle = []\npyhost_cycle.append(pyhost_cycle)');
    const cyc = await t.throwsAsync(g.eval('pyhost_cycle'), { instanceOf: PyhostError });
    t.is(cyc?.code, 'ERR_CONVERSION');
    t.regex(cyc?.message ?? '', /nested deeper than \d+ levels/);
    t.is(await g.eval('len(pyhost_cycle)'), 1, 'the group still works');
  });

  test(title('call arguments that cannot pass to Python reject with a conversion error naming the type'), async (t) => {
    const g = engine.group('conv-bad-args');
    class Point {
      x = 1;
    }
    const cases: [unknown, RegExp][] = [
      [new Date(0), /Date/],
      [() => 1, /function/],
      [Symbol('s'), /symbol/],
      [new Map(), /Map/],
      [new Point(), /Point/],
    ];
    for (const [value, re] of cases) {
      const err = await t.throwsAsync(g.call('pyhost_probe', 'echo', [value]), { instanceOf: PyhostError }, String(re));
      t.regex(err?.message ?? '', re);
      t.true(err?.code === 'ERR_CONVERSION' || err?.code === 'ERR_INVALID_ARGUMENT', `code ${err?.code} for ${String(re)}: a user's bad argument is not an internal error`);
    }
    t.deepEqual(await g.call('pyhost_probe', 'echo', [[1]]), [1], 'the group still works');
  });

  // ---------------------------------------------------------------------------------------------
  // Python exceptions

  test(title('a Python exception rejects with PythonError: type, message, traceback'), async (t) => {
    const g = engine.group('%{GLOBAL}');
    const err = await t.throwsAsync(g.eval('1 / 0'), { instanceOf: PythonError });
    t.true(err instanceof PyhostError);
    t.is(err?.code, 'ERR_PYTHON_EXCEPTION');
    t.is(err?.type, 'ZeroDivisionError');
    t.is(err?.message, 'ZeroDivisionError: division by zero');
    t.regex(err?.traceback ?? '', /^Traceback \(most recent call last\):\n/);
    t.regex(err?.traceback ?? '', /File "<eval>", line 1/);
    t.regex(err?.traceback ?? '', /ZeroDivisionError: division by zero\n?$/);

    const ne = await t.throwsAsync<PythonError>(g.exec('def pyhost_f():\n    return pyhost_undefined_name\npyhost_f()'));
    t.is(ne?.type, 'NameError');
    t.regex(ne?.traceback ?? '', /File "<exec>", line 2, in pyhost_f/);
  });

  test(title('exception types are qualified with their module (json.decoder.JSONDecodeError, nested classes)'), async (t) => {
    const g = engine.group('exc-qualified');
    const j = await t.throwsAsync<PythonError>(g.call('json', 'loads', ['{']));
    t.true(j instanceof PythonError);
    t.is(j?.type, 'json.decoder.JSONDecodeError');
    t.regex(j?.message ?? '', /^json\.decoder\.JSONDecodeError: Expecting property name enclosed in double quotes/);
    t.regex(j?.traceback ?? '', /json[/\\]decoder\.py/);

    const inner = await t.throwsAsync<PythonError>(g.call('pyhost_probe', 'fail_inner'));
    t.is(inner?.type, 'pyhost_probe.Outer.Inner');
    t.is(inner?.message, 'pyhost_probe.Outer.Inner: inner failure');
    t.regex(inner?.traceback ?? '', /pyhost_probe\.py", line \d+, in fail_inner/);

    const chained = await t.throwsAsync<PythonError>(g.call('pyhost_probe', 'fail_chained'));
    t.is(chained?.type, 'pyhost_probe.ProbeError');
    t.regex(chained?.traceback ?? '', /KeyError: 'missing'/);
    t.regex(chained?.traceback ?? '', /The above exception was the direct cause of the following exception/);

    await g.exec('class LocalError(ValueError): pass');
    const local = await t.throwsAsync<PythonError>(g.exec('raise LocalError("here")'));
    t.is(local?.type, 'LocalError', 'classes of __main__ are not prefixed');

    const missingMod = await t.throwsAsync<PythonError>(g.call('pyhost_no_such_module', 'f'));
    t.is(missingMod?.type, 'ModuleNotFoundError');
    const missingAttr = await t.throwsAsync<PythonError>(g.call('pyhost_probe', 'no_such_function'));
    t.is(missingAttr?.type, 'AttributeError');
    t.regex(missingAttr?.message ?? '', /no_such_function/);
  });

  test(title('a SyntaxError in exec or eval source is a PythonError and the group keeps working'), async (t) => {
    const g = engine.group('syntax');
    const e1 = await t.throwsAsync<PythonError>(g.exec('x = (1,\ny = 2'));
    t.true(e1 instanceof PythonError);
    t.is(e1?.type, 'SyntaxError');
    t.regex(e1?.message ?? '', /<exec>, line \d/);
    t.regex(e1?.traceback ?? '', /File "<exec>", line \d/);
    const e2 = await t.throwsAsync<PythonError>(g.exec('if True:\nx = 1'));
    t.is(e2?.type, 'IndentationError');
    const e3 = await t.throwsAsync<PythonError>(g.eval('x = 1'));
    t.is(e3?.type, 'SyntaxError');
    t.regex(e3?.message ?? '', /<eval>/);
    await g.exec('x = 41');
    t.is(await g.eval('x + 1'), 42);
  });

  test(title('RecursionError and exceptions whose str() fails reject cleanly'), async (t) => {
    const g = engine.group('exc-edge');
    await g.exec('def pyhost_recurse(n):\n    return pyhost_recurse(n + 1)');
    const rec = await t.throwsAsync<PythonError>(g.eval('pyhost_recurse(0)'), { instanceOf: PythonError });
    t.is(rec?.type, 'RecursionError');
    await g.exec('class BadStr(Exception):\n    def __str__(self):\n        raise ValueError("no str")');
    const bad = await t.throwsAsync<PythonError>(g.exec('raise BadStr()'), { instanceOf: PythonError });
    t.is(bad?.type, 'BadStr');
    t.is(await g.eval('"alive"'), 'alive');
  });

  test(title('SystemExit and KeyboardInterrupt raised by user code reject; the process and group go on'), async (t) => {
    const g = engine.group('%{GLOBAL}');
    const se = await t.throwsAsync<PythonError>(g.exec('raise SystemExit(3)'));
    t.is(se?.type, 'SystemExit');
    t.is(se?.message, 'SystemExit: 3');
    const ki = await t.throwsAsync<PythonError>(g.exec('raise KeyboardInterrupt'));
    t.is(ki?.type, 'KeyboardInterrupt');
    const ex = await t.throwsAsync<PythonError>(g.call('sys', 'exit', [4]));
    t.is(ex?.type, 'SystemExit');
    t.is(await g.eval('6 * 7'), 42);
  });

  // ---------------------------------------------------------------------------------------------
  // Isolation between groups

  test(title('module state is isolated between sub-interpreters and %{GLOBAL}: a module-level counter'), async (t) => {
    const a = engine.group('iso-counter-a');
    const b = engine.group('iso-counter-b');
    const main = engine.group('%{GLOBAL}');
    t.is(await a.call('pyhost_counter', 'bump'), 1);
    t.is(await a.call('pyhost_counter', 'bump'), 2);
    t.is(await b.call('pyhost_counter', 'bump'), 1);
    t.is(await main.call('pyhost_counter', 'bump'), 1);
    t.is(await a.call('pyhost_counter', 'bump'), 3);
    const ids = await Promise.all([a, b, main].map((g) => g.call<number>('pyhost_probe', 'interp_id')));
    t.is(ids[2], 0, '%{GLOBAL} is the main interpreter');
    t.is(new Set(ids).size, 3, `three distinct interpreters: ${ids}`);
  });

  test(title('sys.modules, globals and runtime sys.path changes do not leak between groups'), async (t) => {
    const a = engine.group('iso-a');
    const b = engine.group('iso-b');
    const main = engine.group('%{GLOBAL}');
    await a.exec('import sys, pyhost_iso_mod\niso_value = 41\nsys.path.append("/pyhost/iso-a-only")');
    t.is(await a.eval('iso_value + 1'), 42);
    t.true(await a.eval('"pyhost_iso_mod" in sys.modules'));
    for (const g of [b, main]) {
      t.false(await g.eval('"pyhost_iso_mod" in __import__("sys").modules'), g.name);
      const err = await t.throwsAsync<PythonError>(g.eval('iso_value'), undefined, g.name);
      t.is(err?.type, 'NameError', g.name);
      t.false(await g.eval('"/pyhost/iso-a-only" in __import__("sys").path'), g.name);
    }
    t.true(await a.eval('"/pyhost/iso-a-only" in sys.path'));
  });

  // ---------------------------------------------------------------------------------------------
  // sys.path

  test(title('pythonPath is processed like site.addsitedir (a .pth adds a dir) and put first, in every interpreter'), async (t) => {
    const stdlib = facts.stdlib;
    for (const g of [engine.group('%{GLOBAL}'), engine.group('pypath-sub')]) {
      const sysPath = await g.eval<string[]>('__import__("sys").path');
      t.is(sysPath[0], siteA, `${g.name}: ${sysPath}`);
      t.is(sysPath[1], siteB, `${g.name}: the .pth entry follows its site dir`);
      t.true(sysPath.indexOf(stdlib) > 1, `${g.name}: stdlib after pythonPath`);
      t.is(await g.eval('__import__("pyhost_pth_mod").where'), 'site-b', g.name);
    }
  });

  test(title('a group pythonPath applies to that group only, like site.addsitedir, ahead of the stdlib'), async (t) => {
    const g = engine.group('gpath', { pythonPath: [groupOnly] });
    const sysPath = await g.eval<string[]>('__import__("sys").path');
    t.true(sysPath.includes(groupOnly), String(sysPath));
    t.true(sysPath.includes(groupOnlyPth), 'the group dir .pth was processed');
    t.true(sysPath.indexOf(groupOnly) < sysPath.indexOf(facts.stdlib));
    t.true(sysPath.indexOf(groupOnlyPth) < sysPath.indexOf(facts.stdlib));
    t.is(sysPath[0], siteA, 'the engine pythonPath is there too');
    t.is(await g.eval('__import__("pyhost_group_mod").where'), 'group-only');
    t.is(await g.eval('__import__("pyhost_group_pth_mod").where'), 'group-only-pth');
    for (const other of [engine.group('gpath-other'), engine.group('%{GLOBAL}')]) {
      t.false((await other.eval<string[]>('__import__("sys").path')).includes(groupOnly), other.name);
      const err = await t.throwsAsync<PythonError>(other.eval('__import__("pyhost_group_mod")'), undefined, other.name);
      t.is(err?.type, 'ModuleNotFoundError');
    }
  });

  // ---------------------------------------------------------------------------------------------
  // Output

  test(title('print() reaches the logger line by line, tagged with the group; stderr lines are errors'), async (t) => {
    const g = engine.group('out-lines', { threads: 1 });
    await g.exec('print("first")\nprint("l1\\nl2\\n\\nl4")\nimport sys\nsys.stdout.write("par")\nsys.stdout.write("tial\\n")\nprint("to err", file=sys.stderr)\nprint("multi\\nerr", file=sys.stderr)');
    await eventually(() => logOf('out-lines').length >= 9);
    t.deepEqual(logOf('out-lines', 'info'), ['first', 'l1', 'l2', '', 'l4', 'partial']);
    t.deepEqual(logOf('out-lines', 'error'), ['to err', 'multi', 'err']);
    await engine.group('%{GLOBAL}').exec('print("pyhost-main-marker")');
    await eventually(() => records.some((r) => r.message === 'pyhost-main-marker'));
    t.deepEqual(records.filter((r) => r.message === 'pyhost-main-marker'), [{ level: 'info', group: '%{GLOBAL}', message: 'pyhost-main-marker' }]);
    t.false(records.some((r) => r.group === 'out-lines' && r.message.includes('pyhost-main-marker')));
    if (hasOwnGil) {
      await engine.group('out-own', { gil: 'own' }).exec('import sys\nprint("own says hi")\nprint("own err", file=sys.stderr)');
      await eventually(() => logOf('out-own').length >= 2);
      t.deepEqual(logOf('out-own', 'info'), ['own says hi']);
      t.deepEqual(logOf('out-own', 'error'), ['own err']);
    }
  });

  test(title('output of threads the application starts is tagged with the group'), async (t) => {
    const g = engine.group('out-thread');
    await g.exec('import threading\nth = threading.Thread(target=lambda: print("from a python thread"))\nth.start()\nth.join()');
    await eventually(() => logOf('out-thread').length >= 1);
    t.deepEqual(logOf('out-thread'), ['from a python thread']);
  });

  test(title('partial lines written by two concurrent threads do not interleave mid-line'), async (t) => {
    const g = engine.group('out-interleave', { threads: 2 });
    await g.exec('import sys, threading\nbar = threading.Barrier(2, timeout=20)');
    // A writes its first half; then B writes its first half while A waits; then both finish.
    const a = g.exec('sys.stdout.write("A1-")\nbar.wait()\nbar.wait()\nsys.stdout.write("A2\\n")');
    const b = g.exec('bar.wait()\nsys.stdout.write("B1-")\nbar.wait()\nsys.stdout.write("B2\\n")');
    await Promise.all([a, b]);
    await eventually(() => logOf('out-interleave').length >= 2);
    t.deepEqual(logOf('out-interleave').sort(), ['A1-A2', 'B1-B2']);
  });

  // ---------------------------------------------------------------------------------------------
  // Worker pools

  test(title('threads: N workers really run N calls at once (a Barrier(N) passes), each on its own thread'), async (t) => {
    for (const [name, threads, opts] of [
      ['pool-4', 4, { threads: 4 }],
      ['pool-default', 5, undefined],
    ] as const) {
      const g = engine.group(name, opts);
      t.is(g.options.threads, threads);
      await g.exec(`import threading\nbar = threading.Barrier(${threads}, timeout=20)`);
      const results = await Promise.all(
        Array.from({ length: threads }, () => g.eval<[number, number]>('(bar.wait(), threading.get_ident())')),
      );
      t.deepEqual(results.map((r) => r[0]).sort(), [...Array(threads).keys()], name);
      t.is(new Set(results.map((r) => r[1])).size, threads, `${name}: distinct worker threads`);
    }
  });

  /** A group created while `policy` is in force (the scheduler's policy applies at creation). */
  const groupUnderPolicy = (name: string, options: GroupOptions, policy: Partial<SchedulerPolicy>): Group => {
    const previous = setSchedulerPolicy(policy);
    try {
      return engine.group(name, options);
    } finally {
      setSchedulerPolicy(previous);
    }
  };

  test.serial(title('idleSpinMicros: a worker polling for the next call takes it (one thread runs a caller that awaits each call); 0 turns polling off'), async (t) => {
    const threadsUsed = async (name: string, spin: number) => {
      const g = groupUnderPolicy(name, { threads: 5 }, { idleSpinMicros: spin });
      await g.exec('import threading');
      const counts = new Map<number, number>();
      for (let i = 0; i < 300; i++) {
        const ident = await g.eval<number>('threading.get_ident()');
        counts.set(ident, (counts.get(ident) ?? 0) + 1);
      }
      const { spinMisses } = g.native.info();
      g.close();
      return { threads: counts.size, mostOnOne: Math.max(...counts.values()) / 300, spinMisses };
    };
    // 10 ms polls. A miss (this loop paused longer: a GC, or a loaded machine descheduling it)
    // legitimately sends the next calls to other workers (a group whose polls miss backs off), so
    // the claim is checked on a run without misses: up to 5 runs, each on a fresh group.
    let spinning: Awaited<ReturnType<typeof threadsUsed>> | undefined;
    for (let run = 0; run < 5 && (!spinning || spinning.spinMisses > 0); run++) {
      spinning = await threadsUsed(`spin-on-${run}`, 10_000);
    }
    t.is(spinning!.spinMisses, 0, 'every run had a poll that timed out: the caller paused past 10 ms each time');
    t.true(spinning!.mostOnOne >= 0.9, `with polling, one worker ran ${spinning!.mostOnOne * 100}% of the calls`);
    // Without polling each call wakes a sleeping worker: the condition variable takes turns.
    const sleeping = await threadsUsed('spin-off', 0);
    t.true(sleeping.threads > 1, `without polling, calls ran on ${sleeping.threads} thread(s)`);
  });

  test.serial(title('loopPollMicros: outcomes of a caller awaiting each call reach the loop by polling, not by waking it; 0 turns polling off'), async (t) => {
    const deliveries = async (name: string, poll: number) => {
      const g = groupUnderPolicy(name, { threads: 1 }, { loopPollMicros: poll });
      await g.eval('1');
      const before = engine.native.completionStats();
      for (let i = 0; i < 300; i++) t.is(await g.eval<number>(`${i} * 2`), i * 2);
      const after = engine.native.completionStats();
      g.close();
      return { woken: after.woken - before.woken, polled: after.polled - before.polled };
    };
    // 10 ms: an outcome misses the window only if the worker is held up that long.
    const polling = await deliveries('poll-on', 10_000);
    t.true(polling.polled >= 270, `with polling, ${polling.polled} of 300 outcomes were polled (${polling.woken} woke the loop)`);
    const sleeping = await deliveries('poll-off', 0);
    t.is(sleeping.polled, 0, 'without polling no outcome is polled');
    t.true(sleeping.woken >= 300, `without polling, ${sleeping.woken} wake-ups for 300 calls`);
  });

  test(title('threads: N workers cannot run N+1 calls at once (a Barrier(N+1) breaks)'), async (t) => {
    const g = engine.group('pool-3', { threads: 3 });
    // The 4th party is queued behind the three waiting workers, so the barrier times out.
    await g.exec('import threading\nbar = threading.Barrier(4, timeout=1.0)');
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => g.eval('bar.wait()')));
    for (const r of results) {
      t.is(r.status, 'rejected');
      if (r.status === 'rejected') t.is((r.reason as PythonError).type, 'threading.BrokenBarrierError');
    }
  });

  test(title("Node's event loop runs while Python sleeps in a call"), async (t) => {
    const g = engine.group('%{GLOBAL}');
    const gate = await openGate();
    try {
      // The Python call can only finish if a Node timer runs while it is in flight.
      const call = g.call('pyhost_probe', 'wait_gate', [gate.port]);
      await gate.connected(1);
      setTimeout(() => gate.release('t'), 10);
      t.is(await call, 't');
    } finally {
      gate.close();
    }
  });

  test.serial(title("Node's event loop runs while Python holds the GIL in pure-Python code"), async (t) => {
    const g = engine.group('%{GLOBAL}');
    const file = flagFile('event-loop');
    const fd = fs.openSync(file, 'r+');
    const poll = setInterval(() => {
      const b = Buffer.alloc(2);
      fs.readSync(fd, b, 0, 2, 0);
      if (b[1] === 1) fs.writeSync(fd, Buffer.from([1]), 0, 1, 0);
    }, 2);
    try {
      t.is(await g.call('pyhost_probe', 'hold_gil_until_flag', [file, 20]), 'flag', 'a Node timer set the flag while the loop ran');
    } finally {
      clearInterval(poll);
      fs.closeSync(fd);
    }
  });

  test(title('queueLimit: calls past threads + queueLimit reject with ERR_QUEUE_FULL; queued calls then run'), async (t) => {
    const g = engine.group('queue-2', { threads: 1, queueLimit: 2 });
    await g.eval('1');
    const gate = await openGate();
    try {
      const running = g.call('pyhost_probe', 'wait_gate', [gate.port]);
      await gate.connected(1);
      const queued = [g.eval('2'), g.eval('3')];
      t.is(g.stats().queued, 2);
      t.is(g.stats().inflight, 3);
      const err = await t.throwsAsync(g.eval('4'), { instanceOf: PyhostError });
      t.is(err?.code, 'ERR_QUEUE_FULL');
      t.regex(err?.message ?? '', /queue-2/);
      t.regex(err?.message ?? '', /2 waiting, 1 running/);
      gate.release('x');
      t.is(await running, 'x');
      t.deepEqual(await Promise.all(queued), [2, 3]);
      t.is(await g.eval('5'), 5, 'admission recovers once the queue drains');
      t.is(g.stats().inflight, 0);
    } finally {
      gate.close();
    }
  });

  test(title('queueLimit: 0 admits only as many calls as there are workers'), async (t) => {
    const g = engine.group('queue-0', { threads: 1, queueLimit: 0 });
    const gate = await openGate();
    try {
      const running = g.call('pyhost_probe', 'wait_gate', [gate.port]);
      await gate.connected(1);
      const err = await t.throwsAsync(g.eval('2'), { instanceOf: PyhostError });
      t.is(err?.code, 'ERR_QUEUE_FULL');
      t.regex(err?.message ?? '', /0 waiting, 1 running/);
      gate.release('y');
      t.is(await running, 'y');
      t.is(await g.eval('3'), 3);
    } finally {
      gate.close();
    }
  });

  // ---------------------------------------------------------------------------------------------
  // GIL kinds

  test.serial(title('two shared-GIL groups never run Python at the same time'), async (t) => {
    const a = engine.group('gil-shared-a');
    const b = engine.group('gil-shared-b');
    await Promise.all([a.eval('1'), b.eval('1')]);
    t.is(a.kind, 'shared');
    const file = flagFile('gil-shared');
    // A holds the (shared) GIL with a 30 s switch interval: B cannot set the flag while A loops.
    const holder = a.call('pyhost_probe', 'hold_gil_until_flag', [file, 1.5, 30]);
    const setter = b.call('pyhost_probe', 'set_flag_when_started', [file, 20]);
    t.is(await holder, 'timeout');
    t.is(await setter, 'set');
  });

  if (hasOwnGil) {
    test.serial(title('two own-GIL groups run Python at the same time'), async (t) => {
      const a = engine.group('gil-own-a', { gil: 'own' });
      const b = engine.group('gil-own-b', { gil: 'own' });
      await Promise.all([a.eval('1'), b.eval('1')]);
      t.is(a.kind, 'own');
      t.is(b.kind, 'own');
      const file = flagFile('gil-own');
      const holder = a.call('pyhost_probe', 'hold_gil_until_flag', [file, 20, 30]);
      const setter = b.call('pyhost_probe', 'set_flag_when_started', [file, 20]);
      t.is(await setter, 'set');
      t.is(await holder, 'flag', 'B ran while A held its own GIL');
    });

    test(title("gil: 'own' makes an isolated interpreter with its own GIL; 'shared' a legacy one"), async (t) => {
      const own = engine.group('gil-config-own', { gil: 'own' });
      const shared = engine.group('gil-config-shared', { gil: 'shared' });
      t.is(own.kind, 'own');
      t.deepEqual(await own.call('pyhost_probe', 'interp_gil'), { gil: 'own', use_main_obmalloc: false, check_multi_interp_extensions: true });
      t.deepEqual(await shared.call('pyhost_probe', 'interp_gil'), { gil: 'shared', use_main_obmalloc: true, check_multi_interp_extensions: false });
      t.not(await own.call('pyhost_probe', 'interp_id'), 0);
      t.is(own.options.extensions, 'strict', 'own-GIL groups are always strict');
    });
  } else {
    test(title("gil: 'own' on Python < 3.12 throws ERR_OWN_GIL_UNSUPPORTED"), (t) => {
      const err = t.throws(() => engine.group('own-unsupported', { gil: 'own' }), { instanceOf: PyhostError });
      t.is(err?.code, 'ERR_OWN_GIL_UNSUPPORTED');
      t.regex(err?.message ?? '', new RegExp(`3\\.12.*${facts.version.replace(/\./g, '\\.')}`));
      t.false(engine.listGroups().some((g) => g.name === 'own-unsupported'));
    });
  }

  // ---------------------------------------------------------------------------------------------
  // %{GLOBAL} fallback

  test(title('the single-phase extension fixture builds'), (t) => {
    if (ext instanceof Error) t.fail(ext.message);
    else t.true(fs.existsSync(ext.file));
  });

  /** Calls that import a refused module in `g`; checks the group moved to %{GLOBAL} with one warning. */
  async function expectFallback(t: ExecutionContext, g: Group, module: string, call: () => Promise<unknown>) {
    const before = g.kind;
    t.not(before, 'main');
    const results = await Promise.all([call(), call()]);
    t.is(g.kind, 'main', 'the group was re-homed to the main interpreter');
    t.is(g.fallbackModule, module);
    t.is(await g.call('pyhost_probe', 'interp_id'), 0, 'it now runs in the main interpreter');
    await call();
    const warnings = logOf(g.name, 'warn');
    t.is(warnings.length, 1, `exactly one warning: ${JSON.stringify(warnings)}`);
    t.regex(warnings[0] ?? '', new RegExp(`\\b${module}\\b`));
    t.regex(warnings[0] ?? '', /%\{GLOBAL\}/);
    return results;
  }

  if (hasOwnGil) {
    test(title('fallback: an own-GIL group importing _testsinglephase moves to %{GLOBAL} with one warning'), async (t) => {
      const g = engine.group('fb-testsinglephase', { gil: 'own' });
      t.is(await g.eval('1 + 1'), 2);
      t.is(g.kind, 'own');
      const r = await expectFallback(t, g, '_testsinglephase', () => g.eval('__import__("_testsinglephase").__name__'));
      t.deepEqual(r, ['_testsinglephase', '_testsinglephase']);
    });

    test(title('fallback: an own-GIL group importing the compiled single-phase fixture moves to %{GLOBAL}'), async (t) => {
      if (ext instanceof Error) return t.fail(ext.message);
      const g = engine.group('fb-ext-own', { gil: 'own' });
      const r = await expectFallback(t, g, EXT.own, () => g.call(EXT.own, 'bump'));
      t.true(r.every((n) => typeof n === 'number' && n >= 1));
    });
  }

  test(title("fallback: extensions 'strict' refuses the single-phase fixture in a shared-GIL group and falls back"), async (t) => {
    if (ext instanceof Error) return t.fail(ext.message);
    const g = engine.group('fb-ext-strict', { extensions: 'strict' });
    t.is(await g.eval('1'), 1);
    t.is(g.kind, 'shared');
    const r = await expectFallback(t, g, EXT.strict, () => g.call(EXT.strict, 'bump'));
    t.true(r.every((n) => typeof n === 'number' && n >= 1));
  });

  test(title("fallback: a group keeps its own pythonPath in %{GLOBAL} (its application still imports)"), async (t) => {
    if (ext instanceof Error) return t.fail(ext.message);
    const g = engine.group('fb-group-path', {
      ...(hasOwnGil ? { gil: 'own' as const } : { extensions: 'strict' as const }),
      pythonPath: [appDir],
    });
    t.true((await g.eval<string[]>('__import__("sys").path')).includes(appDir));
    // The application module lives on the group's pythonPath and imports a single-phase extension.
    const r = await expectFallback(t, g, EXT.app, () => g.call('pyhost_group_app', 'run'));
    t.true(r.every((n) => typeof n === 'number' && n >= 1));
  });

  test(title("fallback: 'error' surfaces the ImportError naming the module, with the advice"), async (t) => {
    if (ext instanceof Error) return t.fail(ext.message);
    const g = engine.group('fb-error', {
      ...(hasOwnGil ? { gil: 'own' as const } : { extensions: 'strict' as const }),
      fallback: 'error',
    });
    const kind = hasOwnGil ? 'own' : 'shared';
    for (let i = 0; i < 2; i++) {
      const err = await t.throwsAsync<PythonError>(g.call(EXT.error, 'bump'), { instanceOf: PythonError });
      t.is(err?.type, 'ImportError');
      t.is(err?.refusedModule, EXT.error);
      t.regex(err?.message ?? '', new RegExp(`${EXT.error}.*does not support loading in subinterpreters`));
      t.regex(err?.message ?? '', /%\{GLOBAL\}/, 'the advice names %{GLOBAL}');
      t.regex(err?.message ?? '', /fallback: 'global'/);
    }
    t.is(g.kind, kind, 'the group stays where it was');
    t.is(g.fallbackModule, undefined);
    // Still a sub-interpreter: its sys module is not %{GLOBAL}'s. (The interpreter-id probe
    // imports _xxsubinterpreters, itself a single-phase module a strict 3.11 group refuses.)
    const sysId = 'id(__import__("sys"))';
    t.not(await g.eval(sysId), await engine.group('%{GLOBAL}').eval(sysId));
    t.deepEqual(logOf('fb-error', 'warn'), []);
  });

  if (hasOwnGil) {
    test(title("fallback: 'error' with _testsinglephase in an own-GIL group"), async (t) => {
      const g = engine.group('fb-error-tsp', { gil: 'own', fallback: 'error' });
      const err = await t.throwsAsync<PythonError>(g.exec('import _testsinglephase'), { instanceOf: PythonError });
      t.is(err?.refusedModule, '_testsinglephase');
      t.regex(err?.message ?? '', /_testsinglephase/);
      t.regex(err?.message ?? '', /%\{GLOBAL\}/);
      t.is(g.kind, 'own');
    });
  }

  test(title("extensions 'legacy' (the default) loads the single-phase fixture in the sub-interpreter"), async (t) => {
    if (ext instanceof Error) return t.fail(ext.message);
    const g = engine.group('legacy-ext');
    t.is(g.options.extensions, 'legacy');
    t.is(await g.call(EXT.legacy, 'bump'), 1);
    t.is(g.kind, 'shared');
    t.not(await g.call('pyhost_probe', 'interp_id'), 0);
    t.deepEqual(logOf('legacy-ext', 'warn'), []);
    // A single-phase module keeps its C state process-wide: the same counter is seen from
    // another legacy sub-interpreter (why 'strict' and own-GIL groups refuse such modules).
    t.is(await engine.group('legacy-ext-2').call(EXT.legacy, 'bump'), 2);
  });

  test(title("extensions 'strict' refuses a single-phase module even once another interpreter loaded it"), async (t) => {
    if (ext instanceof Error) return t.fail(ext.message);
    t.is(await engine.group('%{GLOBAL}').call(EXT.loaded, 'bump'), 1);
    const g = engine.group('strict-after-main', {
      ...(hasOwnGil ? { gil: 'own' as const } : { extensions: 'strict' as const }),
      fallback: 'error',
    });
    const err = await t.throwsAsync<PythonError>(g.call(EXT.loaded, 'bump'), { instanceOf: PythonError });
    t.is(err?.type, 'ImportError');
    t.is(err?.refusedModule, EXT.loaded);
    const shared = engine.group('strict-after-main-shared', { extensions: 'strict', fallback: 'error' });
    const err2 = await t.throwsAsync<PythonError>(shared.call(EXT.loaded, 'bump'), { instanceOf: PythonError });
    t.is(err2?.refusedModule, EXT.loaded);
    t.is(await engine.group('%{GLOBAL}').call(EXT.loaded, 'count'), 1, 'no interpreter but the main one ran it');
  });

  // ---------------------------------------------------------------------------------------------
  // Bad input

  test(title('invalid group options throw ERR_INVALID_OPTION naming the option, and create no group'), (t) => {
    const cases: [string, unknown, RegExp][] = [
      ['bad-gil', { gil: 'none' }, /gil must be one of 'shared', 'own', got "none"/],
      ['bad-threads-0', { threads: 0 }, /threads must be an integer from 1/],
      ['bad-threads-frac', { threads: 1.5 }, /threads must be an integer/],
      ['bad-threads-str', { threads: '4' }, /threads must be an integer/],
      ['bad-threads-big', { threads: 100000 }, /threads must be an integer from 1 to \d+/],
      ['bad-fallback', { fallback: 'main' }, /fallback must be one of 'global', 'error'/],
      ['bad-queue', { queueLimit: -1 }, /queueLimit must be an integer from 0/],
      ['bad-ext', { extensions: 'loose' }, /extensions must be one of 'legacy', 'strict'/],
      ['bad-path-str', { pythonPath: '/tmp' }, /pythonPath must be an array of non-empty strings/],
      ['bad-path-item', { pythonPath: [1] }, /pythonPath must be an array of non-empty strings/],
      ['bad-path-empty', { pythonPath: [''] }, /pythonPath must be an array of non-empty strings/],
      ['bad-key', { gli: 'own' }, /unknown option 'gli'/],
      ['bad-pooled', { pooled: 'yes' }, /pooled must be/],
      ['bad-null', null, /expected an options object, got null/],
      ['bad-string', 'own', /expected an options object, got string/],
    ];
    for (const [name, options, re] of cases) {
      const err = t.throws(() => engine.group(name, options as never), { instanceOf: PyhostError }, name);
      t.is(err?.code, 'ERR_INVALID_OPTION', name);
      t.regex(err?.message ?? '', re, name);
      t.regex(err?.message ?? '', new RegExp(`group ${name}`), name);
    }
    for (const name of ['', 42, undefined]) {
      const err = t.throws(() => engine.group(name as never), { instanceOf: PyhostError });
      t.is(err?.code, 'ERR_INVALID_OPTION');
    }
    const global = t.throws(() => engine.group('%{GLOBAL}', { gil: 'own' }), { instanceOf: PyhostError });
    t.is(global?.code, 'ERR_INVALID_OPTION');
    t.regex(global?.message ?? '', /main interpreter/);
    const names = engine.listGroups().map((g) => g.name);
    t.false(names.some((n) => n.startsWith('bad-')), String(names));
  });

  test(title('asking again for a group returns it; with different options it is an error'), (t) => {
    const g = engine.group('again', { threads: 2 });
    t.is(engine.group('again'), g);
    t.is(engine.group('again', { threads: 2 }), g);
    const err = t.throws(() => engine.group('again', { threads: 3 }), { instanceOf: PyhostError });
    t.is(err?.code, 'ERR_INVALID_OPTION');
    t.regex(err?.message ?? '', /already exists with different options/);
  });

  test(title('non-string sources and bad call arguments reject with ERR_INVALID_ARGUMENT'), async (t) => {
    const g = engine.group('bad-args');
    const bad: [string, () => Promise<unknown>][] = [
      ['exec(42)', () => g.exec(42 as never)],
      ['exec(undefined)', () => g.exec(undefined as never)],
      ['exec(Buffer)', () => g.exec(Buffer.from('x = 1') as never)],
      ['eval(null)', () => g.eval(null as never)],
      ['call("", f)', () => g.call('', 'f')],
      ['call(m, "")', () => g.call('os', '')],
      ['call(m, f, "x")', () => g.call('os', 'getcwd', 'x' as never)],
    ];
    for (const [what, fn] of bad) {
      const err = await t.throwsAsync(fn(), { instanceOf: PyhostError }, what);
      t.is(err?.code, 'ERR_INVALID_ARGUMENT', what);
    }
    t.is(await g.eval('"still fine"'), 'still fine');
  });

  const otherPython = [PY313, PY311, PY311_PYENV].find((p) => p !== python && !pythonMissing(p) && pythonFacts(p).version !== facts.version);
  if (otherPython || requireAllPythons) {
    test(title('this process cannot switch to another Python: ERR_PYTHON_VERSION_MISMATCH naming both'), async (t) => {
      if (!otherPython) return t.fail('no second Python installed');
      const other = pythonFacts(otherPython);
      const err = await t.throwsAsync(Engine.start({ python: otherPython }), { instanceOf: PyhostError });
      t.is(err?.code, 'ERR_PYTHON_VERSION_MISMATCH');
      t.true(err?.message.includes(facts.version), err?.message);
      t.true(err?.message.includes(other.version), err?.message);
      t.is(await engine.group('%{GLOBAL}').eval('1'), 1, 'the running engine is unaffected');
    });
  }

  test(title('a second Engine shares the runtime; closing it leaves the first one running'), async (t) => {
    const second = await Engine.start({ python, logger: () => {} });
    t.is(second.pythonVersion, engine.pythonVersion);
    const g2 = second.group('second-engine');
    t.is(await g2.eval('__import__("os").getpid()'), process.pid);
    await second.close();
    t.true(second.closed);
    const closed = await t.throwsAsync(g2.eval('1'), { instanceOf: PyhostError });
    t.is(closed?.code, 'ERR_ENGINE_CLOSED');
    const closedGroup = t.throws(() => second.group('second-engine-2'), { instanceOf: PyhostError });
    t.is(closedGroup?.code, 'ERR_ENGINE_CLOSED');
    t.is(await engine.group('%{GLOBAL}').eval('2 + 2'), 4, 'the first engine still works');
    t.is(await engine.group('argv-sub').eval('3'), 3);
  });

  test(title('a second Engine cannot silently drop options the running runtime does not have'), async (t) => {
    const conflict = await t.throwsAsync(Engine.start({ python, pythonHome: facts.prefix }), { instanceOf: PyhostError });
    t.is(conflict?.code, 'ERR_RUNTIME_CONFLICT');
    // pythonPath and optimize are fixed when the runtime starts: a second Engine asking for
    // others must get them or a clear error, not groups that lack them.
    for (const options of [{ pythonPath: [groupOnly] }, { optimize: 2 as const }]) {
      let second: Engine | undefined;
      try {
        second = await Engine.start({ python, logger: () => {}, ...options });
      } catch (err) {
        t.is((err as PyhostError).code, 'ERR_RUNTIME_CONFLICT', JSON.stringify(options));
        continue;
      }
      try {
        const g = second.group(`second-opts-${Object.keys(options)[0]}`);
        if ('pythonPath' in options) t.true((await g.eval<string[]>('__import__("sys").path')).includes(groupOnly), 'pythonPath honoured');
        else t.is(await g.eval('__import__("sys").flags.optimize'), 2, 'optimize honoured');
      } finally {
        await second.close();
      }
    }
  });
}

/** Polls `cond` until true or `ms` pass (a bounded wait for an event). */
export async function eventually(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Gate {
  port: number;
  /** Resolves once n connections have arrived (bounded: rejects after 20 s). */
  connected(n: number): Promise<void>;
  /** Sends one character to every connection and closes them. */
  release(ch: string): void;
  close(): void;
}

/** A TCP server Python code blocks on (GIL released) until the test releases it. */
async function openGate(): Promise<Gate> {
  const sockets: net.Socket[] = [];
  const waiters: (() => void)[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    waiters.splice(0).forEach((w) => w());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    async connected(n) {
      const end = Date.now() + 20000;
      while (sockets.length < n) {
        if (Date.now() > end) throw new Error(`gate: ${sockets.length} of ${n} connections after 20 s`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
    release(ch) {
      for (const s of sockets.splice(0)) s.end(ch);
    },
    close() {
      for (const s of sockets.splice(0)) s.destroy();
      server.close();
    },
  };
}
