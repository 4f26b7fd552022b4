// Facts about a Python interpreter, shared by the build script and the engine's build loader.
// Plain JavaScript because it runs at `npm install`, before TypeScript is compiled.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const infoScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'python_info.py');

/** Runs `python python_info.py`; throws an Error with a readable message when it cannot. */
export function describePython(python) {
  let out;
  try {
    out = execFileSync(python, ['-I', infoScript], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
  } catch (err) {
    const why = err.code === 'ENOENT' ? 'no such executable' : (err.stderr || err.message || '').toString().trim().split('\n').pop();
    const e = new Error(`cannot run Python ${python}: ${why}`);
    e.code = 'ERR_PYTHON_NOT_FOUND';
    throw e;
  }
  const info = JSON.parse(out);
  info.requested = python;
  return info;
}

/** Why this Python cannot be embedded, as advice naming the fix; undefined when it can. */
export function checkBuildable(info) {
  const [major, minor] = info.version.split('.').map(Number);
  const mm = `${major}.${minor}`;
  if (major !== 3 || minor < 11) {
    return `Python ${info.version} (${info.executable}) is too old: pyhost needs Python 3.11 or newer`;
  }
  if (!info.shared || !info.libpython) {
    return `Python ${info.version} (${info.executable}) has no shared libpython${mm}.so: pyhost embeds CPython and must link it. ` +
      `On Debian/Ubuntu: apt-get install libpython${mm}-dev; for a Python built from source or with pyenv: rebuild it with ` +
      `./configure --enable-shared (pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install ${info.version})`;
  }
  if (!info.hasHeaders) {
    return `Python ${info.version} (${info.executable}) has no C headers (Python.h not in ${info.include}). ` +
      `On Debian/Ubuntu: apt-get install python${mm}-dev`;
  }
  return undefined;
}

/** The build tag: CPython version (ABI) plus a hash of the libpython it links. */
export function buildTag(info) {
  const [major, minor] = info.version.split('.');
  const hash = crypto.createHash('sha1').update(info.libpython).digest('hex').slice(0, 8);
  return `cp${major}${minor}${info.freeThreaded ? 't' : ''}-${hash}`;
}

export function platformDir() {
  return `${process.platform}-${process.arch}`;
}

/** Every build under prebuilds/<platform>-<arch>/, with its python.json manifest. */
export function listBuilds(root) {
  const dir = path.join(root, 'prebuilds', platformDir());
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, 'python.json')))
    .map((d) => ({ dir: path.join(dir, d.name), ...JSON.parse(fs.readFileSync(path.join(dir, d.name, 'python.json'), 'utf8')) }));
}

export function defaultBuild(root) {
  const file = path.join(root, 'prebuilds', platformDir(), 'default.json');
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined;
}
