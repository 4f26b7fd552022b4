/**
 * Finds and loads the native build that serves a requested Python. One build per CPython minor
 * version (Python tag cp311, cp313, ...) sits in prebuilds/<platform>-<arch>/ (scripts/builds.js
 * names the files and picks the one that fits, by node-gyp-build's rules); it serves every
 * shared CPython of that minor, because it links no libpython: the selected Python's own
 * libpython is loaded first, globally (libpython.ts). One Python per process.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { findBuild, listBuilds, readDefault, type Build, type PythonBuild } from '../../scripts/builds.js';
import { checkEmbeddable, describePython, minorOf, pythonTag, type PythonInfo } from '../../scripts/python.js';
import { PyhostError } from '../errors.js';
import { loadLibpythonGlobally } from './libpython.js';
import { packageRoot } from './package-root.js';
import type { NativeAddon } from './types.js';

export { packageRoot };

/** The selected Python (its facts) and the build that serves it. */
export interface ResolvedBuild extends PythonInfo {
  tag: string;
  /** Absolute paths of the addon and of the daemon program. */
  addon: string;
  daemon: string | undefined;
  /** The Python the build was compiled with (any Python of the same minor). */
  builtWith?: Build['builtWith'];
  builtBy?: Build['builtBy'];
}

const requireNative = createRequire(import.meta.url);

let loaded: { build: ResolvedBuild; addon: NativeAddon } | undefined;

/** The command that compiles a build for `python` here (it works in a checkout and in node_modules). */
export function buildCommand(python: string): string {
  return `node ${path.join(packageRoot, 'scripts', 'build.js')} --python ${python}`;
}

/** "3.11 (cp311, built with 3.11.7) and 3.13 (...)", or "none". */
export function describeBuilds(builds: PythonBuild[] = listBuilds(packageRoot)): string {
  return builds.length
    ? builds.map((b) => `${b.minor} (${b.tag}, built with ${b.version})`).join(' and ')
    : 'none';
}

function pythonInfo(python: string): PythonInfo {
  try {
    return describePython(python);
  } catch (err) {
    throw new PyhostError('ERR_PYTHON_NOT_FOUND', (err as Error).message);
  }
}

/** The venv's base version from pyvenv.cfg (`version` or `version_info`), if `dir` is a venv. */
export function venvVersion(dir: string): string | undefined {
  const cfg = path.join(dir, 'pyvenv.cfg');
  if (!fs.existsSync(cfg)) return undefined;
  const m = /^\s*version(?:_info)?\s*=\s*([0-9][0-9.]*)/m.exec(fs.readFileSync(cfg, 'utf8'));
  return m ? m[1] : '';
}

/** The Python used when none is named: the one `npm install` chose, else python3. */
export function defaultPython(): string {
  return readDefault(packageRoot)?.python ?? 'python3';
}

/** Which build serves `python` (an executable path or name; default: {@link defaultPython}). */
export function resolveBuild(python: string | undefined): ResolvedBuild {
  const info = pythonInfo(python ?? defaultPython());
  const problem = checkEmbeddable(info);
  if (problem) throw new PyhostError('ERR_PYTHON_NOT_EMBEDDABLE', problem);
  const tag = pythonTag(info);
  const build = findBuild(packageRoot, 'python', tag);
  if (!build) {
    throw new PyhostError(
      'ERR_PYTHON_VERSION_MISMATCH',
      `no pyhost build for Python ${info.version} (${info.executable}, ${tag}) on ${process.platform}-${process.arch}; ` +
        `builds here serve Python ${describeBuilds()}. Build one with: ${buildCommand(python ?? info.executable)}`,
    );
  }
  return { ...info, tag, addon: build.addon, daemon: build.daemon, builtWith: build.builtWith, builtBy: build.builtBy };
}

/** Checks that a venv or prefix used as pythonHome belongs to the Python of `build`. */
export function checkPythonHome(home: string, build: PythonInfo): { venv: boolean; python?: string } {
  if (!fs.existsSync(home) || !fs.statSync(home).isDirectory()) {
    throw new PyhostError('ERR_PYTHON_HOME', `pythonHome ${home} is not a directory`);
  }
  const vv = venvVersion(home);
  if (vv !== undefined) {
    if (vv && minorOf(vv) !== minorOf(build.version)) {
      throw new PyhostError(
        'ERR_PYTHON_VERSION_MISMATCH',
        `pythonHome ${home} is a venv of Python ${vv} but the engine runs Python ${build.version} (${build.executable}); ` +
          `pass python: the Python ${minorOf(vv)} executable (build for it with: ${buildCommand(`python${minorOf(vv)}`)}) or use a venv made with Python ${minorOf(build.version)}`,
      );
    }
    const py = ['python3', 'python'].map((n) => path.join(home, 'bin', n)).find((p) => fs.existsSync(p));
    if (!py) throw new PyhostError('ERR_PYTHON_HOME', `pythonHome ${home} has pyvenv.cfg but no bin/python3`);
    return { venv: true, python: py };
  }
  const stdlib = path.join(home, 'lib', `python${minorOf(build.version)}`, 'os.py');
  if (!fs.existsSync(stdlib)) {
    throw new PyhostError(
      'ERR_PYTHON_HOME',
      `pythonHome ${home} is neither a venv (no pyvenv.cfg) nor a Python ${minorOf(build.version)} prefix (no ${stdlib})`,
    );
  }
  const py = path.join(home, 'bin', 'python3');
  return { venv: false, python: fs.existsSync(py) ? py : undefined };
}

/** Loads the addon of `build`, after its Python's libpython; a process can hold only one. */
export function loadAddon(build: ResolvedBuild): NativeAddon {
  if (loaded) {
    if (loaded.build.libpython !== build.libpython) {
      throw new PyhostError(
        'ERR_PYTHON_VERSION_MISMATCH',
        `this process already runs Python ${loaded.build.version} (${loaded.build.libpython}); ` +
          `an engine for Python ${build.version} needs its own process: use a daemon process group (python: ...)`,
      );
    }
    return loaded.addon;
  }
  loadLibpythonGlobally(build);
  const addon = requireNative(build.addon) as NativeAddon;
  loaded = { build, addon };
  return addon;
}

export function loadedBuild(): ResolvedBuild | undefined {
  return loaded?.build;
}
