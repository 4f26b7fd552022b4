/**
 * Loading a per-minor build: one build serves every shared CPython of its minor, on that
 * Python's own libpython; the cases it refuses (a second Python in the process, a libpython
 * some other code already made global, a Python with no shared libpython); and how a daemon
 * program is pointed at the selected libpython.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { Engine, PyhostError } from '../ts/index.js';
import { daemonEnvironment } from '../ts/native/daemon-program.js';
import { resolveBuild } from '../ts/native/loader.js';
import { describeChild, runChild } from './helpers/child.js';
import { tempRoot } from './helpers/packed.js';
import { staticConfiguredPython } from './helpers/python-copies.js';
import { PY311, PY311_PYENV, PY312, PY313, pythonFacts, skipUnlessPython } from './helpers/pythons.js';

const J = JSON.stringify;
const root = tempRoot('pyhost-loader-');
test.after.always(() => fs.rmSync(root, { recursive: true, force: true }));

const missing = [PY311, PY311_PYENV, PY312, PY313].map((p) => skipUnlessPython(test, p, 'loading per-minor builds')).find(Boolean);
if (!missing) {
  const debianLib = resolveBuild(PY311).libpython;
  const pyenvLib = resolveBuild(PY311_PYENV).libpython;

  test('one cp311 build serves Debian 3.11 and pyenv 3.11, each on its own libpython; a second of them in the process is refused', async (t) => {
    const r = await runChild(`
      const fs = await import('node:fs');
      const maps = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => /libpython/.test(l)).map((l) => l.split(/\\s+/).pop());
      const engine = await Engine.start({ python: ${J(PY311)}, logger: () => {} });
      report({ version: engine.pythonVersion, numpy: await engine.group('%{GLOBAL}').eval('__import__("numpy").arange(4).sum().item()'), libs: [...new Set(maps())] });
      await engine.close();
      try { await Engine.start({ python: ${J(PY311_PYENV)}, logger: () => {} }); report('started'); }
      catch (e) { report({ code: e.code, message: e.message }); }
    `);
    t.is(r.code, 0, describeChild(r));
    t.deepEqual(r.reports[0], { version: pythonFacts(PY311).version, numpy: 6, libs: [debianLib] });
    const refused = r.reports[1] as { code: string; message: string };
    t.is(refused.code, 'ERR_PYTHON_VERSION_MISMATCH');
    t.regex(refused.message, /needs its own process: use a daemon process group/);

    const other = await runChild(`
      const engine = await Engine.start({ python: ${J(PY311_PYENV)}, logger: () => {} });
      report({ version: engine.pythonVersion, lib: await engine.group('%{GLOBAL}').eval('[l.split()[-1] for l in open("/proc/self/maps") if "libpython" in l][0]') });
      await engine.close();
    `);
    t.is(other.code, 0, describeChild(other));
    t.deepEqual(other.reports[0], { version: pythonFacts(PY311_PYENV).version, lib: pyenvLib });
  });

  test('a libpython some other code made global first is ERR_RUNTIME_CONFLICT naming it', async (t) => {
    const r = await runChild(`
      const os = await import('node:os');
      const c = os.constants.dlopen;
      // What another addon linking libpython and opening it RTLD_GLOBAL leaves behind (NODELETE:
      // process.dlopen closes a library that is not an addon).
      try { process.dlopen({ exports: {} }, ${J(debianLib)}, c.RTLD_NOW | c.RTLD_GLOBAL | 0x1000); } catch {}
      try { await Engine.start({ python: ${J(PY311_PYENV)}, logger: () => {} }); report('started'); }
      catch (e) { report({ code: e.code, message: e.message }); }
    `);
    t.is(r.code, 0, describeChild(r));
    const e = r.reports[0] as { code: string; message: string };
    t.is(e.code, 'ERR_RUNTIME_CONFLICT');
    t.true(e.message.startsWith(`this process already has Python loaded from ${debianLib}; Python ${pythonFacts(PY311_PYENV).version} (${pyenvLib}) cannot share the process with it`), e.message);
  });

  test('a Python with no shared libpython (configured static-only) is ERR_PYTHON_NOT_EMBEDDABLE naming the fix', async (t) => {
    const python = staticConfiguredPython(PY312, path.join(root, 'static-312'));
    const err = await t.throwsAsync(Engine.start({ python }), { instanceOf: PyhostError });
    t.is(err?.code, 'ERR_PYTHON_NOT_EMBEDDABLE');
    t.true(err?.message.startsWith(`Python ${pythonFacts(PY312).version} (${python}) has no shared libpython3.12.so`), err?.message);
    t.regex(err?.message ?? '', /--enable-shared/);
  });

  test("daemon programs: LD_LIBRARY_PATH only when the loader would not find the selected libpython first; the user's entries kept after it", (t) => {
    const debian = resolveBuild(PY311);
    const pyenv = resolveBuild(PY311_PYENV);
    const pyenvDir = path.dirname(PY311_PYENV).replace(/\/bin$/, '/lib');
    // Debian's libpython3.11 is in the ld.so cache: nothing to add, and the user's value stays.
    t.deepEqual(daemonEnvironment(debian, { LD_LIBRARY_PATH: '/opt/x', HOME: '/h' }), { LD_LIBRARY_PATH: '/opt/x', HOME: '/h' });
    t.deepEqual(daemonEnvironment(debian, {}), {});
    // pyenv's is not: its directory goes first.
    t.is(daemonEnvironment(pyenv, {}).LD_LIBRARY_PATH, pyenvDir);
    t.is(daemonEnvironment(pyenv, { LD_LIBRARY_PATH: '/opt/x' }).LD_LIBRARY_PATH, `${pyenvDir}:/opt/x`);
    // Already reachable through the user's LD_LIBRARY_PATH (no other copy before it): unchanged.
    t.is(daemonEnvironment(pyenv, { LD_LIBRARY_PATH: `/opt/x:${pyenvDir}` }).LD_LIBRARY_PATH, `/opt/x:${pyenvDir}`);
    // A directory on LD_LIBRARY_PATH holding another libpython3.11.so.1.0 would win over the
    // cache: Debian's directory must then go before it.
    t.is(daemonEnvironment(debian, { LD_LIBRARY_PATH: pyenvDir }).LD_LIBRARY_PATH, `${debian.libpythonDir}:${pyenvDir}`);
  });
}
