/**
 * Packaging when no prebuild fits: the packed project ships builds for 3.11 and 3.13 only, so
 * installing it for Python 3.12 compiles from the shipped sources (and serves), fails clearly
 * with no compiler, and a Python with no shared libpython fails with the fix to apply.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './helpers/child.js';
import { startCli } from './helpers/daemon.js';
import { request } from './helpers/http.js';
import { installedPackage, installTarball, packProject, pathWithoutCompiler, tempRoot, userEnv } from './helpers/packed.js';
import { staticConfiguredPython } from './helpers/python-copies.js';
import { PY312, pythonFacts, skipUnlessPython } from './helpers/pythons.js';

const root = tempRoot('pyhost-packaging-source-');
test.after.always(() => fs.rmSync(root, { recursive: true, force: true }));

if (!skipUnlessPython(test, PY312, 'installing for a Python minor with no prebuild')) {
  const version = pythonFacts(PY312).version;
  let tarball: Promise<string> | undefined;
  const packed = () => (tarball ??= packProject(path.join(root, 'pack'), ['cp311', 'cp313']).then((p) => p.tarball));

  test.serial('with no compiler on PATH, installing for 3.12 fails naming the missing tools and the package to install', async (t) => {
    const dir = path.join(root, 'no-compiler');
    const r = await installTarball(dir, await packed(), userEnv(pathWithoutCompiler(root), { PYHOST_PYTHON: PY312 }));
    t.not(r.code, 0, r.output);
    t.true(r.output.includes(`pyhost install: no build fits Python ${version} (cp312) on linux-x64 (builds here: cp311, cp313): compiling one from source`), r.output);
    t.true(r.output.includes('pyhost install: cannot compile pyhost: a C++ compiler (g++ or clang++) and make not found on PATH; on Debian/Ubuntu: apt-get install build-essential'), r.output);
  });

  test.serial('a static-only Python (no shared libpython) fails the install with the configure flag that fixes it', async (t) => {
    const python = staticConfiguredPython(PY312, path.join(root, 'static-python'));
    const r = await installTarball(path.join(root, 'static'), await packed(), userEnv(process.env.PATH ?? '', { PYHOST_PYTHON: python }));
    t.not(r.code, 0, r.output);
    t.true(r.output.includes(`pyhost install: Python ${version} (${python}) has no shared libpython3.12.so`), r.output);
    t.regex(r.output, /--enable-shared/);
  });

  test.serial('with a compiler, installing for 3.12 compiles the 3.12 build from the shipped sources, and it serves', async (t) => {
    const dir = path.join(root, 'source-build');
    const started = Date.now();
    const r = await installTarball(dir, await packed(), userEnv(process.env.PATH ?? '', { PYHOST_PYTHON: PY312 }));
    t.is(r.code, 0, r.output);
    t.log(`npm install with a source build: ${((Date.now() - started) / 1000).toFixed(0)} s`);
    t.true(r.output.includes(`pyhost build: compiling for Python ${version} (${pythonFacts(PY312).executable}) as cp312`), r.output);
    const store = path.join(installedPackage(dir), 'prebuilds', `${process.platform}-${process.arch}`);
    const manifest = JSON.parse(fs.readFileSync(path.join(store, 'pyhost.cp312.napi.glibc.json'), 'utf8')) as { builtBy: string; builtWith: { version: string } };
    t.is(manifest.builtBy, 'node-gyp');
    t.is(manifest.builtWith.version, version);
    t.false(r.output.includes('compiling pyhost_front'), 'the shipped parts without Python are used as they are');
    for (const args of [[], ['--processes', '1', '--threads', '2']]) {
      const cli = await startCli([path.join(REPO_ROOT, 'examples', 'hello.wsgi'), ...args], { bin: path.join(installedPackage(dir), 'bin', 'pyhost.js'), cwd: dir, env: userEnv(process.env.PATH ?? ''), timeoutMs: 60_000 });
      try {
        const res = await request(`${cli.url}/`);
        t.is(res.body.toString(), 'Hello from Python 3.12 via pyhost!\n', cli.stderr());
      } finally {
        cli.child.kill('SIGTERM');
        await Promise.race([cli.exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
        cli.kill();
      }
    }
  });
}
