/**
 * Puts the selected Python's libpython into the process's global symbol scope before the pyhost
 * addon is loaded. The addon links no libpython, so one build serves every shared CPython of its
 * minor version (Debian's, pyenv's, a venv's base): its Python symbols resolve, when Node loads
 * it, from the library opened here, and so do those of the C extension modules Python loads
 * later (numpy, _ssl, ...), which link no libpython either. Node opens addons RTLD_LOCAL, so
 * opening libpython from Node (pyhost_preload.node) is what makes it global.
 */
import fs from 'node:fs';
import type { PythonInfo } from '../../scripts/python.js';
import { PyhostError } from '../errors.js';
import { requirePythonFreeAddon } from './package-root.js';

interface PreloadAddon {
  openGlobal(path: string): void;
  providerOf(symbol: string): string | undefined;
  runtimeRecord(json?: string | null): string | undefined;
}

let preload: PreloadAddon | undefined;

function preloadAddon(): PreloadAddon {
  preload ??= requirePythonFreeAddon<PreloadAddon>('preload');
  return preload;
}

/** Whether two paths name one file (after symlinks); false when either does not exist. */
export function sameFile(a: string, b: string): boolean {
  try {
    return fs.realpathSync(a) === fs.realpathSync(b);
  } catch {
    return false;
  }
}

/** The file that provides Python's C-API to this process now, if any (opened globally). */
export function globalLibpython(): string | undefined {
  return preloadAddon().providerOf('Py_Initialize');
}

/**
 * Opens `python.libpython` RTLD_GLOBAL. Throws ERR_RUNTIME_CONFLICT when another libpython
 * already provides Python's symbols to the process (two Pythons cannot share one process), and
 * ERR_LIBPYTHON_LOAD when the library does not load.
 */
export function loadLibpythonGlobally(python: PythonInfo): void {
  const conflict = (other: string) =>
    new PyhostError(
      'ERR_RUNTIME_CONFLICT',
      `this process already has Python loaded from ${other}; Python ${python.version} (${python.libpython}) cannot share the process with it ` +
        '(one Python per process; use a daemon process group for another)',
    );
  const before = globalLibpython();
  if (before && !sameFile(before, python.libpython)) throw conflict(before);
  try {
    preloadAddon().openGlobal(python.libpython);
  } catch (err) {
    throw new PyhostError('ERR_LIBPYTHON_LOAD', `Python ${python.version} (${python.executable}): ${(err as Error).message}`);
  }
  const after = globalLibpython();
  if (!after || !sameFile(after, python.libpython)) throw conflict(after ?? 'a library opened RTLD_LOCAL');
}

/**
 * The process-wide note of which Python runs in this process (JSON; undefined: none), shared by
 * every Node thread through the Python-free preload library.
 */
export function runtimeRecord(): string | undefined {
  return preloadAddon().runtimeRecord();
}

export function setRuntimeRecord(json: string | null): void {
  preloadAddon().runtimeRecord(json);
}
