/**
 * Packaging, as a user meets it: `npm pack` of the project with prebuilds for Python 3.11 and
 * 3.13, `npm install` of the tarball into a fresh directory with no compiler on PATH, and the
 * installed `pyhost` serving hello world with Debian's python3.11 and pyenv's 3.11 and 3.13, in
 * embedded and daemon mode. Nothing may be compiled: the prebuilds must fit.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { describePython } from '../scripts/python.js';
import { REPO_ROOT } from './helpers/child.js';
import { childPids, startCli, type CliServer } from './helpers/daemon.js';
import { request } from './helpers/http.js';
import { commandsOnPath, installedPackage, installTarball, packProject, pathWithoutCompiler, tempRoot, userEnv, type Ran } from './helpers/packed.js';
import { minorOf, PY311, PY311_PYENV, PY313, pythonFacts, pythonMissing, requireAllPythons } from './helpers/pythons.js';

const COMPILERS = ['cc', 'c++', 'gcc', 'g++', 'clang', 'clang++', 'make'];
const HELLO = path.join(REPO_ROOT, 'examples', 'hello.wsgi');
const root = tempRoot('pyhost-packaging-');
test.after.always(() => fs.rmSync(root, { recursive: true, force: true }));

const missing = [PY311, PY311_PYENV, PY313].map(pythonMissing).find(Boolean);
const noCompilerPath = pathWithoutCompiler(root);
const user = path.join(root, 'user');
let packed: { tarball: string; files: string[] } | undefined;
let install: Ran | undefined;
let installSeconds = 0;
let setupError: Error | undefined;

test.before(async () => {
  if (missing) return;
  try {
    packed = await packProject(root, ['cp311', 'cp313']);
    const started = Date.now();
    install = await installTarball(user, packed.tarball, userEnv(noCompilerPath, { PYHOST_PYTHON: PY311 }));
    installSeconds = (Date.now() - started) / 1000;
  } catch (err) {
    setupError = err as Error;
  }
});

/** A test that needs the packed and installed project (and every Python above). */
function withInstall(title: string, fn: (t: ExecutionContext) => Promise<void> | void): void {
  if (missing && !requireAllPythons) {
    test.skip(`${title} (skipped: ${missing})`, () => {});
    return;
  }
  test(title, async (t) => {
    if (missing) return t.fail(`${missing} (PYHOST_REQUIRE_ALL_PYTHONS=1)`);
    if (setupError) return t.fail(`packing or installing failed: ${setupError.message}`);
    await fn(t);
  });
}

test('package.json has no script npm would run as another script\'s pre- or post-hook', (t) => {
  const scripts = Object.keys(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).scripts as object);
  const hooks = scripts.filter((name) => {
    const m = /^(pre|post)(.+)$/.exec(name);
    return m && scripts.includes(m[2]);
  });
  t.deepEqual(hooks, [], `scripts: ${scripts.join(', ')}`);
  t.true(scripts.includes('prebuild'), 'npm run prebuild makes the prebuilds');
  t.false(scripts.includes('build'), 'a "build" script would make npm run "prebuild" (all minors) before it');
});

withInstall('the tarball ships the 3.11 and 3.13 builds (addon and daemon), the parts without Python and the sources, not default.json', (t) => {
  const files = packed!.files;
  const store = `prebuilds/${process.platform}-${process.arch}/`;
  for (const f of ['pyhost.cp311.napi.glibc.node', 'pyhost-daemon.cp311.glibc', 'pyhost.cp313.napi.glibc.node', 'pyhost-daemon.cp313.glibc', 'pyhost_front.napi.glibc.node', 'pyhost_preload.napi.glibc.node']) {
    t.true(files.includes(store + f), `${f} in ${files.filter((x) => x.startsWith('prebuilds/')).join(', ')}`);
  }
  t.false(files.some((f) => f.startsWith(store) && /cp312/.test(f)), 'no 3.12 build');
  t.false(files.includes(store + 'default.json'), 'the packing machine\'s default Python stays out');
  for (const f of ['binding.gyp', 'csrc/python/runtime.cc', 'scripts/install.js', 'dist/cli.js', 'bin/pyhost.js']) t.true(files.includes(f), f);
  t.log(`tarball ${(fs.statSync(packed!.tarball).size / 1024 / 1024).toFixed(1)} MiB, ${files.length} files`);
});

withInstall('npm install with no compiler on PATH uses the prebuild and compiles nothing', (t) => {
  t.deepEqual(commandsOnPath(noCompilerPath, COMPILERS), [], 'the compilers are hidden');
  t.is(install!.code, 0, install!.output);
  t.regex(install!.output, /pyhost install: Python 3\.11\.\d+ \(\/usr\/bin\/python3\.11\) uses prebuilds\/linux-x64\/pyhost\.cp311\.napi\.glibc\.node/);
  t.notRegex(install!.output, /pyhost build: compiling|compiling one from source/);
  const pkg = installedPackage(user);
  t.false(fs.existsSync(path.join(pkg, 'build')), 'node-gyp never ran');
  const store = path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`);
  t.deepEqual(JSON.parse(fs.readFileSync(path.join(store, 'default.json'), 'utf8')).python, PY311, 'install recorded the default Python');
  t.log(`npm install with a prebuild: ${installSeconds.toFixed(1)} s`);
});

/** Serves examples/hello.wsgi with the installed pyhost; returns the body and which libpython served it. */
async function serveHello(t: ExecutionContext, args: string[]): Promise<{ body: string; libpython: string[] }> {
  let cli: CliServer | undefined;
  try {
    cli = await startCli([HELLO, ...args], { bin: path.join(installedPackage(user), 'bin', 'pyhost.js'), cwd: user, env: userEnv(noCompilerPath), timeoutMs: 60_000 });
    const res = await request(`${cli.url}/`);
    t.is(res.status, 200, cli.stderr());
    const daemonMode = args.includes('--processes');
    const pids = daemonMode ? childPids(cli.child.pid!) : [cli.child.pid!];
    const libpython = [...new Set(pids.flatMap((pid) => fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => /libpython/.test(l)).map((l) => l.split(/\s+/).pop()!)))];
    return { body: res.body.toString(), libpython };
  } finally {
    if (cli) {
      cli.child.kill('SIGTERM');
      await Promise.race([cli.exited, new Promise((r) => setTimeout(r, 20_000))]);
      cli.kill();
    }
  }
}

for (const [label, python, args] of [
  ["Debian's python3.11, embedded", PY311, []],
  ["Debian's python3.11, daemon mode", PY311, ['--processes', '1', '--threads', '2']],
  ["pyenv's 3.11 (same cp311 prebuild), embedded", PY311_PYENV, ['--python', PY311_PYENV]],
  ["pyenv's 3.13, embedded", PY313, ['--python', PY313]],
  ["pyenv's 3.13, daemon mode", PY313, ['--python', PY313, '--processes', '1', '--threads', '2']],
] as [string, string, string[]][]) {
  withInstall(`the installed pyhost serves hello world with ${label}, on that Python's own libpython`, async (t) => {
    const facts = pythonFacts(python);
    const { body, libpython } = await serveHello(t, args);
    t.is(body, `Hello from Python ${minorOf(facts.version)} via pyhost!\n`);
    const own = describePython(python).libpython;
    t.deepEqual(libpython.map((f) => fs.realpathSync(f)), [own], `mapped: ${libpython.join(', ')}`);
  });
}
