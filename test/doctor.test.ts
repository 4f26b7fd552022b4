/**
 * `pyhost doctor`: which Python and which build, shared libpython, headers and compiler, the
 * venv's version, pythonHome and pythonPath, the daemon program. Each diagnosis is checked for
 * its message and fix, against real Pythons (Debian's 3.11, pyenv's 3.12 and 3.13, venvs of
 * them, and copies of 3.12 and 3.13 without headers or with a static-only configuration).
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './helpers/child.js';
import { checkOf, doctor, failedCheck } from './helpers/doctor.js';
import { buildSinglePhaseExtension } from './helpers/extension.js';
import { pathWithoutCompiler, tempRoot } from './helpers/packed.js';
import { pythonWithoutHeaders, staticConfiguredPython } from './helpers/python-copies.js';
import { PY311, PY312, PY313, pythonFacts, skipUnlessPython } from './helpers/pythons.js';
import { runNode } from './helpers/run-node.js';

const HELLO = path.join(REPO_ROOT, 'examples', 'hello.wsgi');
const BUILD_SCRIPT = path.join(REPO_ROOT, 'scripts', 'build.js');
const root = tempRoot('pyhost-doctor-');
test.after.always(() => fs.rmSync(root, { recursive: true, force: true }));

function venv(python: string, name: string): string {
  const dir = path.join(root, name);
  if (!fs.existsSync(dir)) execFileSync(python, ['-m', 'venv', '--without-pip', dir], { timeout: 60_000 });
  return dir;
}

const missing = [PY311, PY312, PY313].map((p) => skipUnlessPython(test, p, 'pyhost doctor')).find(Boolean);
if (!missing) {
  const v311 = pythonFacts(PY311).version;
  const v313 = pythonFacts(PY313).version;

  test('a setup that runs (Debian python3.11, hello.wsgi): each check ok on one line, exit 0', async (t) => {
    const r = await doctor(t, [HELLO, '--python', PY311]);
    t.is(r.code, 0, r.output);
    t.true(r.report.ok);
    t.is(checkOf(t, r, 'python').message, `Python ${v311} at ${PY311} (from --python)`);
    t.is(checkOf(t, r, 'libpython').message, 'shared /usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0');
    t.regex(checkOf(t, r, 'build').message, /^prebuilds\/linux-x64\/pyhost\.cp311\.napi\.glibc\.node serves Python 3\.11 \(cp311; (prebuilt|compiled here) with Python 3\.11\.\d+\)$/);
    t.regex(checkOf(t, r, 'daemon').message, /^pyhost-daemon\.cp311\.glibc starts with \/usr\/lib\/x86_64-linux-gnu\/libpython3\.11\.so\.1\.0 \(the loader finds libpython by itself\)$/);
    t.regex(checkOf(t, r, 'extensions').message, /^C extension modules load in %\{GLOBAL\} \(libpython is global\): .*_ssl/);
    t.is(checkOf(t, r, 'app').message, `${HELLO} loads in %{GLOBAL} and defines application`);
    t.regex(checkOf(t, r, 'subinterpreters').message, /Python 3\.11\.\d+ has no own-GIL groups/);
    t.deepEqual(r.report.checks.filter((c) => c.status !== 'ok' && c.check !== 'subinterpreters'), []);

    const text = await runNode(['--import', 'tsx', path.join(REPO_ROOT, 'ts', 'cli.ts'), 'doctor', HELLO, '--python', PY311]);
    const lines = text.stdout.trim().split('\n');
    t.is(lines.pop(), 'pyhost doctor: it would run');
    t.is(lines.length, r.report.checks.length, text.stdout);
    for (const line of lines) t.regex(line, /^(ok|warn|fail) +[a-z-]+ +\S/);
  });

  test("pyenv's 3.13: the daemon program finds pyenv's libpython through LD_LIBRARY_PATH; hello.wsgi loads in own-GIL and strict sub-interpreters", async (t) => {
    const r = await doctor(t, [HELLO, '--python', PY313]);
    t.is(r.code, 0, r.output);
    const lib = path.join(path.dirname(path.dirname(PY313)), 'lib');
    t.is(checkOf(t, r, 'daemon').message, `pyhost-daemon.cp313.glibc starts with ${lib}/libpython3.13.so.1.0 (libpython found through LD_LIBRARY_PATH=${lib})`);
    t.regex(checkOf(t, r, 'subinterpreters').message, /^(the \d+ C extension modules? in use load in own-GIL and strict sub-interpreters|no C extension module is in use: none can refuse a sub-interpreter)$/);
  });

  test('a Python that does not exist: python fails naming it, exit 1', async (t) => {
    const nowhere = path.join(root, 'no', 'python3');
    const r = await doctor(t, ['--python', nowhere]);
    const c = failedCheck(t, r, 'python');
    t.regex(c.message, new RegExp(`^cannot run Python ${nowhere}: no such executable \\(the Python from --python\\)$`));
    t.is(c.fix, 'name a Python 3.11 or newer with --python PATH');
    t.deepEqual(r.report.checks.map((c2) => c2.check), ['python']);
  });

  test('a Python minor with no build (3.12): build fails with the command that compiles one; headers and compiler are there', async (t) => {
    const r = await doctor(t, ['--python', PY312]);
    const build = failedCheck(t, r, 'build');
    t.regex(build.message, /^no build serves Python 3\.12 \(cp312\) on linux-x64; builds here serve Python .*3\.11 \(cp311/);
    t.is(build.fix, `compile one: node ${BUILD_SCRIPT} --python ${pythonFacts(PY312).executable}`);
    t.is(checkOf(t, r, 'headers').status, 'ok');
    t.is(checkOf(t, r, 'compiler').message, 'a C++ compiler and make are on PATH');
  });

  test('no build and no compiler on PATH: compiler fails naming what to install', async (t) => {
    const r = await doctor(t, ['--python', PY312], { PATH: pathWithoutCompiler(root) });
    const c = failedCheck(t, r, 'compiler');
    t.is(c.message, 'a build for it cannot be compiled: a C++ compiler (g++ or clang++) and make not found on PATH');
    t.is(c.fix, 'on Debian/Ubuntu: apt-get install build-essential');
  });

  test('no build and no C headers (a 3.12 without its -dev files): headers fails with the package to install', async (t) => {
    const python = pythonWithoutHeaders(PY312, path.join(root, 'py312-no-headers'));
    const r = await doctor(t, ['--python', python]);
    const c = failedCheck(t, r, 'headers');
    t.is(c.message, `Python 3.12.1 (${python}) has no C headers (Python.h not in ${path.join(root, 'py312-no-headers', 'include', 'python3.12')}): a build for it cannot be compiled`);
    t.is(c.fix, 'on Debian/Ubuntu: apt-get install libpython3.12-dev');
  });

  test('no C headers but a build fits (a 3.13 without include/): headers are not needed, the app runs, exit 0', async (t) => {
    const python = pythonWithoutHeaders(PY313, path.join(root, 'py313-no-headers'));
    const r = await doctor(t, [HELLO, '--python', python]);
    t.is(r.code, 0, r.output);
    t.is(checkOf(t, r, 'headers').message, 'no C headers (not needed: a build fits)');
    t.is(checkOf(t, r, 'app').status, 'ok');
  });

  test('a static-only Python (no shared libpython): libpython fails with the configure flag, exit 1', async (t) => {
    const python = staticConfiguredPython(PY312, path.join(root, 'py312-static'));
    const r = await doctor(t, ['--python', python]);
    const c = failedCheck(t, r, 'libpython');
    t.is(c.message, `Python 3.12.1 (${python}) has no shared libpython3.12.so: pyhost embeds CPython and must load it`);
    t.regex(c.fix ?? '', /apt-get install libpython3\.12; .*\.\/configure --enable-shared/);
  });

  test('a venv of 3.11 as --python-home with --python 3.13: python-home fails naming both versions and both fixes', async (t) => {
    const home = venv(PY311, 'venv311');
    const r = await doctor(t, ['--python', PY313, '--python-home', home]);
    const c = failedCheck(t, r, 'python-home');
    t.is(c.message, `--python-home ${home} is a venv of Python ${v311}, but pyhost runs Python ${v313} (${pythonFacts(PY313).executable}) there`);
    t.is(c.fix, `run the venv's own Python (--python ${home}/bin/python3, which needs a build for 3.11) or recreate the venv with python3.13 -m venv`);
  });

  test("a venv as the only hint runs the venv's Python: a 3.12 venv has no build; a 3.11 venv runs", async (t) => {
    const home312 = venv(PY312, 'venv312');
    const r = await doctor(t, ['--python-home', home312]);
    t.is(r.code, 1);
    t.regex(checkOf(t, r, 'python').message, new RegExp(`^Python 3\\.12\\.1 at ${home312}/bin/python3, a venv of \\S+ \\(from the venv --python-home names\\)$`));
    t.regex(checkOf(t, r, 'build').message, /^no build serves Python 3\.12 \(cp312\)/);

    const home311 = venv(PY311, 'venv311');
    const ok = await doctor(t, [HELLO, '--python-home', home311]);
    t.is(ok.code, 0, ok.output);
    t.is(checkOf(t, ok, 'python-home').message, `--python-home ${home311} is a venv of Python ${v311} (site-packages ${home311}/lib/python3.11/site-packages)`);
    t.is(checkOf(t, ok, 'app').status, 'ok');
  });

  test('--python-home that does not exist, or is the prefix of another Python: python-home fails', async (t) => {
    const nowhere = path.join(root, 'no-venv');
    const r = await doctor(t, ['--python', PY313, '--python-home', nowhere]);
    t.is(r.code, 1);
    const c = checkOf(t, r, 'python-home');
    t.is(c.message, `--python-home ${nowhere} does not exist`);
    t.is(c.fix, `create the venv (python3.13 -m venv ${nowhere}) or correct --python-home`);

    const prefix312 = path.dirname(path.dirname(PY312));
    const other = await doctor(t, ['--python', PY313, '--python-home', prefix312]);
    t.is(other.code, 1);
    const c2 = checkOf(t, other, 'python-home');
    t.is(c2.message, `--python-home ${prefix312} is a prefix of Python 3.12, not of Python 3.13`);
    t.is(c2.fix, `name a venv made with python3.13, or the prefix of Python ${v313} (${pythonFacts(PY313).prefix})`);
  });

  test("--python-path: a missing directory warns (exit 0); another version's site-packages or extension modules fail", async (t) => {
    const nowhere = path.join(root, 'no-lib');
    const r = await doctor(t, ['--python', PY313, '--python-path', nowhere]);
    t.is(r.code, 0, r.output);
    const c = checkOf(t, r, 'python-path');
    t.is(c.status, 'warn');
    t.is(c.message, `--python-path ${nowhere} does not exist (Python skips it, so imports from it fail)`);

    const site312 = path.join(path.dirname(path.dirname(PY312)), 'lib', 'python3.12', 'site-packages');
    const sites = await doctor(t, ['--python', PY313, '--python-path', site312]);
    t.is(sites.code, 1);
    const c2 = checkOf(t, sites, 'python-path');
    t.is(c2.message, `--python-path ${site312} is the site-packages of Python 3.12, but pyhost runs Python ${v313} there`);
    t.is(c2.fix, 'use packages installed for Python 3.13 (a venv made with python3.13 as --python-home)');

    const ext312 = buildSinglePhaseExtension(PY312);
    const exts = await doctor(t, ['--python', PY313, '--python-path', ext312.dir]);
    t.is(exts.code, 1);
    const c3 = checkOf(t, exts, 'python-path');
    t.is(c3.message, `--python-path ${ext312.dir} holds extension modules built for Python 3.12 (${path.basename(ext312.file)}), none for 3.13: they will not import`);

    const ext313 = buildSinglePhaseExtension(PY313);
    const fine = await doctor(t, ['--python', PY313, '--python-path', ext313.dir]);
    t.is(checkOf(t, fine, 'python-path').status, 'ok');
  });

  test('usage mistakes exit 2 with the reason', async (t) => {
    const both = await runNode(['--import', 'tsx', path.join(REPO_ROOT, 'ts', 'cli.ts'), 'doctor', HELLO, '--config', 'site.conf']);
    t.is(both.code, 2);
    t.regex(both.output, /pyhost doctor: give a SCRIPT or --config FILE, not both/);
    const unknown = await runNode(['--import', 'tsx', path.join(REPO_ROOT, 'ts', 'cli.ts'), 'doctor', '--pyhton', PY311]);
    t.is(unknown.code, 2);
    t.regex(unknown.output, /unknown option --pyhton/);
  });
}
