/**
 * Finds and loads the native build that matches a requested Python. Builds live side by side
 * under prebuilds/<platform>-<arch>/<tag>/ (see scripts/build.js); one Python per process.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultBuild, describePython, listBuilds, type BuildManifest, type PythonInfo } from '../../scripts/python.js';
import { PyhostError } from '../errors.js';
import type { NativeAddon } from './types.js';

export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const requireNative = createRequire(import.meta.url);

let loaded: { manifest: BuildManifest; addon: NativeAddon } | undefined;

function buildCommand(python: string): string {
  return `npm run build -- --python ${python}`;
}

function describeBuilds(builds: BuildManifest[]): string {
  return builds.length
    ? builds.map((b) => `${b.version} (${b.executable})`).join(', ')
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

function minor(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

/** Which build serves `python` (an executable path), or the default build. */
export function resolveBuild(python: string | undefined): BuildManifest {
  const builds = listBuilds(packageRoot);
  if (!python) {
    const def = defaultBuild(packageRoot);
    const found = def && builds.find((b) => b.tag === def.tag);
    if (found) return found;
    if (builds.length === 1) return builds[0];
    throw new PyhostError(
      'ERR_NO_BUILD',
      `pyhost has no default native build (found: ${describeBuilds(builds)}); build one with: npm run build`,
    );
  }
  const info = pythonInfo(python);
  const match = builds.find((b) => b.libpython === info.libpython);
  if (match) return { ...match, executable: info.executable };
  throw new PyhostError(
    'ERR_PYTHON_VERSION_MISMATCH',
    `no pyhost build for Python ${info.version} (${info.executable}); builds exist for Python ${describeBuilds(builds)}. ` +
      `Build one with: ${buildCommand(python)}`,
  );
}

/** Checks that a venv or prefix used as pythonHome belongs to the Python of `build`. */
export function checkPythonHome(home: string, build: BuildManifest): { venv: boolean; python?: string } {
  if (!fs.existsSync(home) || !fs.statSync(home).isDirectory()) {
    throw new PyhostError('ERR_PYTHON_HOME', `pythonHome ${home} is not a directory`);
  }
  const vv = venvVersion(home);
  if (vv !== undefined) {
    if (vv && minor(vv) !== minor(build.version)) {
      throw new PyhostError(
        'ERR_PYTHON_VERSION_MISMATCH',
        `pythonHome ${home} is a venv of Python ${vv} but the engine runs Python ${build.version} (${build.executable}); ` +
          `pass python: the Python ${minor(vv)} executable (build it with: ${buildCommand(`python${minor(vv)}`)}) or use a venv made with Python ${minor(build.version)}`,
      );
    }
    const py = ['python3', 'python'].map((n) => path.join(home, 'bin', n)).find((p) => fs.existsSync(p));
    if (!py) throw new PyhostError('ERR_PYTHON_HOME', `pythonHome ${home} has pyvenv.cfg but no bin/python3`);
    return { venv: true, python: py };
  }
  const stdlib = path.join(home, 'lib', `python${minor(build.version)}`, 'os.py');
  if (!fs.existsSync(stdlib)) {
    throw new PyhostError(
      'ERR_PYTHON_HOME',
      `pythonHome ${home} is neither a venv (no pyvenv.cfg) nor a Python ${minor(build.version)} prefix (no ${stdlib})`,
    );
  }
  const py = path.join(home, 'bin', 'python3');
  return { venv: false, python: fs.existsSync(py) ? py : undefined };
}

/** Loads the addon of `build`; a process can hold only one. */
export function loadAddon(build: BuildManifest): NativeAddon {
  if (loaded) {
    if (loaded.manifest.libpython !== build.libpython) {
      throw new PyhostError(
        'ERR_PYTHON_VERSION_MISMATCH',
        `this process already runs Python ${loaded.manifest.version} (${loaded.manifest.libpython}); ` +
          `an engine for Python ${build.version} needs its own process: use a daemon process group (python: ...)`,
      );
    }
    return loaded.addon;
  }
  const file = path.join(build.dir, 'pyhost.node');
  const addon = requireNative(file) as NativeAddon;
  loaded = { manifest: build, addon };
  return addon;
}

export function loadedBuild(): BuildManifest | undefined {
  return loaded?.manifest;
}
