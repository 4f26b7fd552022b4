/**
 * The Pythons the tests run against, and facts about them read from the real interpreters.
 *
 * CI installs every one of them: with PYHOST_REQUIRE_ALL_PYTHONS=1 a missing Python fails the
 * tests that need it instead of skipping them. Paths may be overridden with PYHOST_TEST_PY311,
 * PYHOST_TEST_PY311_PYENV, PYHOST_TEST_PY313 and PYHOST_TEST_PY312.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestFn } from 'ava';

function pyenvRoot(): string {
  try {
    const out = execFileSync('pyenv', ['root'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10000 }).trim();
    if (out) return out;
  } catch {
    /* pyenv not installed: fall back to its default location */
  }
  return process.env.PYENV_ROOT || path.join(os.homedir(), '.pyenv');
}

export const PYENV_ROOT = pyenvRoot();

/** Debian's Python 3.11 (python3-numpy, flask and django installed from apt). */
export const PY311 = process.env.PYHOST_TEST_PY311 || '/usr/bin/python3.11';
/** pyenv's 3.11.7: the default build. */
export const PY311_PYENV = process.env.PYHOST_TEST_PY311_PYENV || path.join(PYENV_ROOT, 'versions', '3.11.7', 'bin', 'python3');
/** pyenv's 3.13.0: own GIL, `_testsinglephase` in lib-dynload. */
export const PY313 = process.env.PYHOST_TEST_PY313 || path.join(PYENV_ROOT, 'versions', '3.13.0', 'bin', 'python3');
/** pyenv's 3.12.1: installed, but pyhost has no build for it. */
export const PY312 = process.env.PYHOST_TEST_PY312 || path.join(PYENV_ROOT, 'versions', '3.12.1', 'bin', 'python3');

export const requireAllPythons = process.env.PYHOST_REQUIRE_ALL_PYTHONS === '1';

/** What the real interpreter says about itself. */
export interface PythonFacts {
  executable: string;
  version: string;
  versionInfo: [number, number, number];
  prefix: string;
  basePrefix: string;
  include: string;
  extSuffix: string;
  stdlib: string;
  platstdlib: string;
  hasNumpy: boolean;
}

const FACTS_SCRIPT = `
import json, platform, sys, sysconfig, importlib.util
paths = sysconfig.get_paths()
print(json.dumps({
    "executable": sys.executable,
    "version": platform.python_version(),
    "versionInfo": list(sys.version_info[:3]),
    "prefix": sys.prefix,
    "basePrefix": sys.base_prefix,
    "include": paths["include"],
    "extSuffix": sysconfig.get_config_var("EXT_SUFFIX"),
    "stdlib": paths["stdlib"],
    "platstdlib": paths["platstdlib"],
    "hasNumpy": importlib.util.find_spec("numpy") is not None,
}))
`;

const factsCache = new Map<string, PythonFacts>();

/** Facts from running `python -I -c ...` (cached per path). */
export function pythonFacts(python: string): PythonFacts {
  let f = factsCache.get(python);
  if (!f) {
    const out = execFileSync(python, ['-I', '-c', FACTS_SCRIPT], { encoding: 'utf8', timeout: 30000 });
    f = JSON.parse(out) as PythonFacts;
    factsCache.set(python, f);
  }
  return f;
}

/** Why `python` cannot be used (missing or does not run), or undefined when it can. */
export function pythonMissing(python: string): string | undefined {
  if (!fs.existsSync(python)) return `${python} is not installed`;
  try {
    pythonFacts(python);
  } catch (err) {
    return `${python} does not run: ${(err as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

/**
 * Registers nothing and returns the skip reason when `python` is missing: the caller registers
 * its tests only when this returns undefined. Under PYHOST_REQUIRE_ALL_PYTHONS=1 a missing
 * Python registers a failing test instead (CI must not pass by skipping).
 */
export function skipUnlessPython(test: TestFn, python: string, what: string): string | undefined {
  const why = pythonMissing(python);
  if (!why) return undefined;
  if (requireAllPythons) {
    test(`${what}: needs ${python}`, (t) => {
      t.fail(`${why} (PYHOST_REQUIRE_ALL_PYTHONS=1 forbids skipping)`);
    });
  } else {
    test.skip(`${what}: skipped, ${why}`, () => {});
  }
  return why;
}

/** The major.minor of a version string. */
export function minorOf(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}
