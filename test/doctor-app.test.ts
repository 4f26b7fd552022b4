/**
 * `pyhost doctor` on applications and configuration files: C extension modules in %{GLOBAL}
 * (numpy links no libpython: it loads only with libpython global; a module with an undefined
 * symbol does not), the app's own import, the extension modules that refuse sub-interpreters
 * (3.11 and 3.13, with CPython's and pyhost's fixtures), and --config: check-config's verdict,
 * then each process group's Python and checks.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './helpers/child.js';
import { buildBrokenExtension, checkOf, doctor, DOCTOR_FIXTURES, failedCheck } from './helpers/doctor.js';
import { buildSinglePhaseExtension } from './helpers/extension.js';
import { tempRoot } from './helpers/packed.js';
import { PY311, PY312, PY313, pythonFacts, skipUnlessPython } from './helpers/pythons.js';
import { runNode } from './helpers/run-node.js';

const HELLO = path.join(REPO_ROOT, 'examples', 'hello.wsgi');
const root = tempRoot('pyhost-doctor-app-');
test.after.always(() => fs.rmSync(root, { recursive: true, force: true }));

const missing = [PY311, PY312, PY313].map((p) => skipUnlessPython(test, p, 'pyhost doctor on apps')).find(Boolean);
if (!missing) {
  const v311 = pythonFacts(PY311).version;
  const v313 = pythonFacts(PY313).version;

  test('an extension module with an undefined symbol: extensions fails naming the symbol and the Python to rebuild it for; app fails', async (t) => {
    const r = await doctor(t, [path.join(DOCTOR_FIXTURES, 'broken.wsgi'), '--python', PY313, '--python-path', buildBrokenExtension(PY313)]);
    const c = failedCheck(t, r, 'extensions');
    t.is(c.message, `C extension module pyhost_broken does not load: undefined symbol PyHost_NoSuchFunction, which Python ${v313}'s libpython does not define: it was built for another Python`);
    t.is(c.fix, 'reinstall or rebuild pyhost_broken for Python 3.13 (python3.13 -m pip install --force-reinstall --no-cache-dir PACKAGE)');
    const app = checkOf(t, r, 'app');
    t.is(app.status, 'fail');
    t.regex(app.message, /does not load: ImportError: .*pyhost_broken\.cpython-313-x86_64-linux-gnu\.so: undefined symbol: PyHost_NoSuchFunction$/);
  });

  test("numpy on Debian's 3.11 loads in %{GLOBAL} (libpython is global); its single-phase modules are named, with what 3.11 does with them", async (t) => {
    const r = await doctor(t, [path.join(DOCTOR_FIXTURES, 'numpy_app.wsgi'), '--python', PY311]);
    t.is(r.code, 0, r.output);
    t.is(checkOf(t, r, 'extensions').status, 'ok');
    t.is(checkOf(t, r, 'app').status, 'ok');
    const c = checkOf(t, r, 'subinterpreters');
    t.is(c.status, 'warn');
    t.regex(c.message, /numpy\.core\._multiarray_umath/);
    t.regex(c.message, /\(and \d+ C extension modules that import one of them first\) use single-phase init/);
    t.true(c.message.includes(`Python ${v311} has no own-GIL groups (3.12+); a shared-GIL group (a legacy sub-interpreter, as mod_wsgi's) loads them, with one module state for every interpreter; ` +
      "a group with extensions: 'strict' refuses them and the app falls back to %{GLOBAL}"), c.message);
    t.is(c.fix, 'if the app misbehaves in a sub-interpreter, run it in %{GLOBAL} (the default application group)');
  });

  test('3.13: single-phase modules refuse every checking sub-interpreter; a multi-phase module without per-interpreter GIL support refuses own-GIL only', async (t) => {
    const ext = buildSinglePhaseExtension(PY313);
    const r = await doctor(t, [path.join(DOCTOR_FIXTURES, 'refusing.wsgi'), '--python', PY313, '--python-path', ext.dir]);
    t.is(r.code, 0, r.output);
    const warnings = r.report.checks.filter((c) => c.check === 'subinterpreters');
    t.deepEqual(warnings.map((c) => c.status), ['warn', 'warn']);
    t.is(warnings[0].message, "_testsinglephase, pyhost_singlephase refuse sub-interpreters (single-phase init): in an own-GIL group or one with extensions: 'strict', the app falls back to %{GLOBAL}");
    t.is(warnings[0].fix, "run the app in %{GLOBAL} (the default) or a shared-GIL group with extensions: 'legacy', or upgrade _testsinglephase to a release with multi-phase init");
    t.is(warnings[1].message, '_test_shared_gil_only does not support a per-interpreter GIL: in an own-GIL group the app falls back to %{GLOBAL}; a shared-GIL group loads it');
    t.is(warnings[1].fix, "use gil: 'shared' for this app, or upgrade _test_shared_gil_only");
  });

  test('an app that raises while loading: app fails with the exception, exit 1', async (t) => {
    const script = path.join(DOCTOR_FIXTURES, 'raises.wsgi');
    const r = await doctor(t, [script, '--python', PY313]);
    t.is(r.code, 1);
    const c = checkOf(t, r, 'app');
    t.is(c.message, `${script} does not load: RuntimeError: the settings module is missing`);
    t.is(checkOf(t, r, 'extensions').status, 'ok', 'the C extension check does not depend on the app');
  });

  test('--config with an error: the file:line message check-config gives, exit 1', async (t) => {
    const conf = path.join(REPO_ROOT, 'test', 'fixtures', 'config-serve', 'check', 'bad-threads.conf');
    const checkConfig = await runNode(['--import', 'tsx', path.join(REPO_ROOT, 'ts', 'cli.ts'), 'check-config', conf]);
    t.is(checkConfig.code, 1);
    const r = await doctor(t, ['--config', conf]);
    const c = failedCheck(t, r, 'config');
    t.is(`pyhost check-config: ${c.message}\n`, checkConfig.output);
    t.regex(c.fix ?? '', /^correct .*bad-threads\.conf at line 4$/);
  });

  test('--config: what check-config prints, then each process group with its own Python, build and problems', async (t) => {
    const venv312 = path.join(root, 'venv312');
    execFileSync(PY312, ['-m', 'venv', '--without-pip', venv312], { timeout: 60_000 });
    const conf = path.join(root, 'site.conf');
    fs.writeFileSync(conf, [
      'Listen 8080',
      'ServerName doctor.test',
      `WSGIDaemonProcess new python=${PY313} threads=2`,
      `WSGIDaemonProcess old python-home=${venv312}`,
      `WSGIScriptAlias /embedded ${HELLO}`,
      `WSGIScriptAlias /new ${HELLO} process-group=new`,
      `WSGIScriptAlias /old ${HELLO} process-group=old`,
      '',
    ].join('\n'));
    const checkConfig = await runNode(['--import', 'tsx', path.join(REPO_ROOT, 'ts', 'cli.ts'), 'check-config', conf]);
    t.is(checkConfig.code, 0, checkConfig.output);
    const r = await doctor(t, ['--config', conf]);
    t.is(r.code, 1, r.output);
    t.is(r.report.plan + '\n', checkConfig.stdout, 'the plan and "Syntax OK", as check-config prints them');
    t.is(checkOf(t, r, 'config').status, 'ok');
    t.regex(checkOf(t, r, 'python', 'embedded').message, /^Python 3\.\d+\.\d+ at \S+ \(from (the default chosen at npm install|\$PYHOST_PYTHON)\)$/);
    t.is(checkOf(t, r, 'app', 'embedded').status, 'ok');
    t.regex(checkOf(t, r, 'python', 'daemon new').message, new RegExp(`^Python ${v313.replace(/\./g, '\\.')} at \\S+ \\(from python= of WSGIDaemonProcess\\)$`));
    t.is(checkOf(t, r, 'daemon', 'daemon new').status, 'ok');
    t.is(checkOf(t, r, 'app', 'daemon new').status, 'ok');
    // Without python=, a daemon group whose python-home is a venv runs the venv's Python.
    t.regex(checkOf(t, r, 'python', 'daemon old').message, new RegExp(`^Python 3\\.12\\.1 at ${venv312}/bin/python3, a venv of \\S+ \\(from the venv python-home= names\\)$`));
    const old = checkOf(t, r, 'build', 'daemon old');
    t.regex(old.message, /^no build serves Python 3\.12 \(cp312\)/);
    t.deepEqual(r.report.checks.filter((c) => c.status === 'fail').map((c) => `${c.target?.split(',')[0]} ${c.check}`), ['daemon old build']);

    // With --python (start-server's default Python), the group runs that Python in the 3.12 venv.
    const withPython = await doctor(t, ['--config', conf, '--python', PY311]);
    t.is(withPython.code, 1);
    const home = checkOf(t, withPython, 'python-home', 'daemon old');
    t.is(home.message, `python-home= ${venv312} is a venv of Python 3.12.1, but pyhost runs Python ${v311} (${PY311}) there`);
    t.is(home.fix, `run the venv's own Python (python= ${venv312}/bin/python3, which needs a build for 3.12) or recreate the venv with python3.11 -m venv`);
  });
}
