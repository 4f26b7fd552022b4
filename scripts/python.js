// Facts about a Python interpreter, shared by the build script and the engine's build loader.
// Plain JavaScript because it runs at `npm install`, before TypeScript is compiled.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// listBuilds lives in builds.js; re-exported for the bench and tests that import it from here.
export { listBuilds } from './builds.js';

const infoScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'python_info.py');

/** Runs `python python_info.py`; throws an Error with a readable message when it cannot. */
export function describePython(python) {
  let out;
  try {
    out = execFileSync(python, ['-I', infoScript], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
  } catch (err) {
    const real = err.code === 'ENOENT' ? undefined : behindPyenvShim(python, (err.stderr || '').toString());
    if (real) return { ...describePython(real), requested: python };
    const why = err.code === 'ENOENT' ? 'no such executable' : (err.stderr || err.message || '').toString().trim();
    const e = new Error(`cannot run Python ${python}: ${why}`);
    e.code = 'ERR_PYTHON_NOT_FOUND';
    throw e;
  }
  const info = JSON.parse(out);
  info.requested = python;
  return info;
}

/**
 * The real executable behind a pyenv shim that refused `python` (a name on PATH) because no pyenv
 * version that has it is selected ("The `python3.13' command exists in these Python versions:"):
 * the one version that has it, or undefined.
 */
function behindPyenvShim(python, stderr) {
  if (python.includes('/')) return undefined;
  const m = /exists in these Python versions:\n((?:[ \t]+\S+\n?)+)/.exec(stderr);
  if (!m) return undefined;
  const versions = m[1].trim().split(/\s+/);
  if (versions.length !== 1) return undefined;
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const shim = path.join(dir, python);
    if (path.basename(dir) !== 'shims' || !fs.existsSync(shim)) continue;
    const real = path.join(path.dirname(dir), 'versions', versions[0], 'bin', python);
    return fs.existsSync(real) ? real : undefined;
  }
  return undefined;
}

/** Why pyhost cannot run this Python at all ({ kind: 'version' | 'libpython', problem, fix }); undefined when it can. */
export function embeddableProblem(info) {
  const [major, minor] = info.version.split('.').map(Number);
  const mm = `${major}.${minor}`;
  if (major !== 3 || minor < 11) {
    return { kind: 'version', problem: `Python ${info.version} (${info.executable}) is too old: pyhost needs Python 3.11 or newer`, fix: 'use Python 3.11 or newer' };
  }
  if (!info.shared || !info.libpython) {
    return {
      kind: 'libpython',
      problem: `Python ${info.version} (${info.executable}) has no shared libpython${mm}.so: pyhost embeds CPython and must load it`,
      fix: `on Debian/Ubuntu: apt-get install libpython${mm}; for a Python built from source or with pyenv: rebuild it with ` +
        `./configure --enable-shared (pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install ${info.version})`,
    };
  }
  return undefined;
}

/** Why pyhost cannot be compiled against this Python (embeddableProblem, or kind 'headers'); undefined when it can. */
export function buildableProblem(info) {
  const cannotRun = embeddableProblem(info);
  if (cannotRun) return cannotRun;
  if (!info.hasHeaders) {
    return {
      kind: 'headers',
      problem: `Python ${info.version} (${info.executable}) has no C headers (Python.h not in ${info.include})`,
      fix: `on Debian/Ubuntu: apt-get install ${debianDevPackage(info)}`,
    };
  }
  return undefined;
}

const sentence = (p) => p && `${p.problem}. ${p.fix[0].toUpperCase()}${p.fix.slice(1)}`;

/** embeddableProblem as one sentence naming the fix; undefined when pyhost can run this Python. */
export function checkEmbeddable(info) {
  return sentence(embeddableProblem(info));
}

/** buildableProblem as one sentence naming the fix; undefined when pyhost can be compiled against it. */
export function checkBuildable(info) {
  return sentence(buildableProblem(info));
}

/** The Debian package with the headers and shared library of this Python's minor version. */
export function debianDevPackage(info) {
  return `libpython${minorOf(info.version)}-dev`;
}

/** The major.minor of a version string. */
export function minorOf(version) {
  return version.split('.').slice(0, 2).join('.');
}

/**
 * The Python tag of a build, as in wheel names: CPython keeps its ABI within a minor version,
 * so `cp311` serves 3.11.0 to 3.11.x; ABI flags (`t` free-threaded, `d` debug) change the ABI.
 */
export function pythonTag(info) {
  const [major, minor] = info.version.split('.');
  return `cp${major}${minor}${info.abiflags || ''}`;
}

export function platformDir() {
  return `${process.platform}-${process.arch}`;
}
