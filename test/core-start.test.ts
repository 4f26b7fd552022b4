/**
 * Engine.start: choosing the Python (default build, $PYHOST_PYTHON, python), and every way the
 * choice or the options can be wrong. The error cases are rejected before any native build is
 * loaded, so they run in this process; choosing a build that runs needs a child process each.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine, PyhostError } from '../ts/index.js';
import { listBuilds } from '../scripts/python.js';
import { describeChild, REPO_ROOT, runChild } from './helpers/child.js';
import { minorOf, PY311, PY312, PY313, pythonFacts, pythonMissing, requireAllPythons } from './helpers/pythons.js';

const J = JSON.stringify;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pyhost-start-'));
test.after.always(() => fs.rmSync(root, { recursive: true, force: true }));

/** A test that needs these Pythons: skipped when one is missing, failed under PYHOST_REQUIRE_ALL_PYTHONS=1. */
function withPythons(title: string, pythons: string[], fn: (t: ExecutionContext) => Promise<unknown> | void): void {
  const missing = pythons.map(pythonMissing).find(Boolean);
  if (!missing) test(title, fn);
  else if (requireAllPythons) test(title, (t) => t.fail(`${missing} (PYHOST_REQUIRE_ALL_PYTHONS=1)`));
  else test.skip(`${title} (skipped: ${missing})`, () => {});
}

/** The builds on disk, read from their manifests. */
function builds(): { version: string; executable: string }[] {
  return listBuilds(REPO_ROOT);
}

function makeVenv(python: string, name: string): string {
  const venv = path.join(root, name);
  if (!fs.existsSync(venv)) execFileSync(python, ['-m', 'venv', '--without-pip', venv], { timeout: 60000 });
  return venv;
}

test('an unknown Python path is ERR_PYTHON_NOT_FOUND naming it', async (t) => {
  const missing = path.join(root, 'no', 'such', 'python3');
  const err = await t.throwsAsync(Engine.start({ python: missing }), { instanceOf: PyhostError });
  t.is(err?.code, 'ERR_PYTHON_NOT_FOUND');
  t.true(err?.message.includes(missing), err?.message);
});

test('an executable that is not Python is ERR_PYTHON_NOT_FOUND', async (t) => {
  const notPython = path.join(root, 'not-python');
  fs.writeFileSync(notPython, '#!/bin/sh\necho "I am not Python" >&2\nexit 3\n', { mode: 0o755 });
  const err = await t.throwsAsync(Engine.start({ python: notPython }), { instanceOf: PyhostError });
  t.is(err?.code, 'ERR_PYTHON_NOT_FOUND');
  t.true(err?.message.includes(notPython), err?.message);
});

withPythons('a Python without a build is ERR_PYTHON_VERSION_MISMATCH naming both versions and the build command', [PY312], async (t) => {
  const err = await t.throwsAsync(Engine.start({ python: PY312 }), { instanceOf: PyhostError });
  t.is(err?.code, 'ERR_PYTHON_VERSION_MISMATCH');
  const msg = err?.message ?? '';
  t.true(msg.includes(pythonFacts(PY312).version), `names the requested version: ${msg}`);
  const available = builds();
  t.true(available.length > 0);
  for (const b of available) t.true(msg.includes(b.version), `names the build for ${b.version}: ${msg}`);
  t.true(msg.includes(`node ${path.join(REPO_ROOT, 'scripts', 'build.js')} --python ${PY312}`), `names the command that builds it: ${msg}`);
});

withPythons('a venv of 3.11 as pythonHome with python 3.13 is ERR_PYTHON_VERSION_MISMATCH naming both', [PY311, PY313], async (t) => {
  const venv = makeVenv(PY311, 'venv311');
  const err = await t.throwsAsync(Engine.start({ python: PY313, pythonHome: venv }), { instanceOf: PyhostError });
  t.is(err?.code, 'ERR_PYTHON_VERSION_MISMATCH');
  const msg = err?.message ?? '';
  t.true(msg.includes(pythonFacts(PY311).version) || msg.includes(minorOf(pythonFacts(PY311).version)), msg);
  t.true(msg.includes(pythonFacts(PY313).version), msg);
  t.true(msg.includes(venv), msg);
  t.true(msg.includes(`node ${path.join(REPO_ROOT, 'scripts', 'build.js')} --python python${minorOf(pythonFacts(PY311).version)}`), msg);
});

withPythons('a venv of a Python without a build, as the only hint, is ERR_PYTHON_VERSION_MISMATCH', [PY312], async (t) => {
  const venv = makeVenv(PY312, 'venv312');
  const err = await t.throwsAsync(Engine.start({ pythonHome: venv }), { instanceOf: PyhostError });
  t.is(err?.code, 'ERR_PYTHON_VERSION_MISMATCH');
  t.true(err?.message.includes(pythonFacts(PY312).version), err?.message);
});

withPythons('a pythonHome that is neither a venv nor a prefix of that Python is ERR_PYTHON_HOME', [PY313], async (t) => {
  const notDir = path.join(root, 'missing-home');
  const e1 = await t.throwsAsync(Engine.start({ python: PY313, pythonHome: notDir }), { instanceOf: PyhostError });
  t.is(e1?.code, 'ERR_PYTHON_HOME');
  t.true(e1?.message.includes(notDir));
  const empty = fs.mkdtempSync(path.join(root, 'empty-home-'));
  const e2 = await t.throwsAsync(Engine.start({ python: PY313, pythonHome: empty }), { instanceOf: PyhostError });
  t.is(e2?.code, 'ERR_PYTHON_HOME');
  t.regex(e2?.message ?? '', /neither a venv/);
});

test('unknown and invalid Engine options are ERR_INVALID_OPTION naming the option', async (t) => {
  const cases: [unknown, RegExp][] = [
    [{ pyhton: '/usr/bin/python3' }, /unknown option 'pyhton'/],
    [{ threads: 4 }, /unknown option 'threads'/],
    [{ python: 42 }, /python must be a non-empty string/],
    [{ python: '' }, /python must be a non-empty string/],
    [{ pythonHome: ['x'] }, /pythonHome must be a non-empty string/],
    [{ pythonPath: '/srv/app' }, /pythonPath must be an array of non-empty strings/],
    [{ pythonPath: [null] }, /pythonPath must be an array of non-empty strings/],
    [{ home: 7 }, /home must be a non-empty string/],
    [{ optimize: 3 }, /optimize must be an integer from 0 to 2/],
    [{ optimize: '2' }, /optimize must be an integer/],
    [{ logLevel: 'loud' }, /logLevel must be one of/],
    [{ logger: 'console' }, /logger must be a function/],
    [{ shutdownTimeout: -1 }, /shutdownTimeout must be an integer from 0/],
    [{ shutdownTimeout: 1.5 }, /shutdownTimeout must be an integer/],
    [{ allocator: 'jemalloc' }, /allocator must be one of 'pymalloc', 'malloc', got "jemalloc"/],
    [null, /expected an options object, got null/],
    ['python3', /expected an options object, got string/],
  ];
  for (const [options, re] of cases) {
    const err = await t.throwsAsync(Engine.start(options as never), { instanceOf: PyhostError }, J(options));
    t.is(err?.code, 'ERR_INVALID_OPTION', J(options));
    t.regex(err?.message ?? '', re, J(options));
    t.regex(err?.message ?? '', /^Engine\.start: /, J(options));
  }
});

test('with neither python nor $PYHOST_PYTHON, the default build runs', async (t) => {
  const def = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'prebuilds', `${process.platform}-${process.arch}`, 'default.json'), 'utf8')) as {
    python: string;
    version: string;
  };
  const missing = pythonMissing(def.python);
  if (missing) return t.fail(`the default build's Python: ${missing}`);
  const facts = pythonFacts(def.python);
  const r = await runChild(
    `
    const engine = await Engine.start({ logger: () => {} });
    report({ version: engine.pythonVersion, real: await engine.group('%{GLOBAL}').eval('__import__("platform").python_version()'), exe: await engine.group('%{GLOBAL}').eval('__import__("sys").executable') });
    await engine.close();
  `,
    { env: { PYHOST_PYTHON: undefined } },
  );
  t.is(r.code, 0, describeChild(r));
  t.deepEqual(r.reports, [{ version: def.version, real: facts.version, exe: facts.executable }]);
});

withPythons("allocator 'malloc' is Python's allocator in every group, and is chosen once per process", [PY313], async (t) => {
  const r = await runChild(
    `
    const engine = await Engine.start({ python: ${J(PY313)}, allocator: 'malloc', logger: () => {} });
    report({
      global: await engine.group('%{GLOBAL}').eval('__import__("_testinternalcapi").pymem_getallocatorsname()'),
      own: await engine.group('tenant', { gil: 'own' }).eval('__import__("_testinternalcapi").pymem_getallocatorsname()'),
    });
    await engine.close();
    try { await Engine.start({ python: ${J(PY313)}, allocator: 'pymalloc', logger: () => {} }); report('started'); }
    catch (e) { report({ code: e.code, message: e.message }); }
    const again = await Engine.start({ python: ${J(PY313)}, logger: () => {} });
    report(await again.group('%{GLOBAL}').eval('__import__("_testinternalcapi").pymem_getallocatorsname()'));
    await again.close();
  `,
    { env: { PYTHONMALLOC: undefined } },
  );
  t.is(r.code, 0, describeChild(r));
  t.deepEqual(r.reports[0], { global: 'malloc', own: 'malloc' });
  const refused = r.reports[1] as { code: string; message: string };
  t.is(refused.code, 'ERR_INVALID_OPTION', describeChild(r));
  t.regex(refused.message, /allocator pymalloc: this process already ran Python with allocator malloc/);
  t.is(r.reports[2], 'malloc', 'a later start without allocator keeps the first choice');
});

withPythons('without allocator, Python keeps its default allocator (pymalloc)', [PY313], async (t) => {
  const r = await runChild(
    `
    const engine = await Engine.start({ python: ${J(PY313)}, logger: () => {} });
    report(await engine.group('%{GLOBAL}').eval('__import__("_testinternalcapi").pymem_getallocatorsname()'));
    await engine.close();
  `,
    { env: { PYTHONMALLOC: undefined } },
  );
  t.is(r.code, 0, describeChild(r));
  t.deepEqual(r.reports, ['pymalloc']);
});

withPythons('$PYHOST_PYTHON chooses the Python when python is not given', [PY313], async (t) => {
  const facts = pythonFacts(PY313);
  const r = await runChild(
    `
    const engine = await Engine.start({ logger: () => {} });
    report({ version: engine.pythonVersion, exe: await engine.group('%{GLOBAL}').eval('__import__("sys").executable') });
    await engine.close();
  `,
    { env: { PYHOST_PYTHON: PY313 } },
  );
  t.is(r.code, 0, describeChild(r));
  t.deepEqual(r.reports, [{ version: facts.version, exe: facts.executable }]);
});
