/**
 * The checks of `pyhost doctor` that need no Python runtime: which Python a target (the
 * embedded runtime, or one daemon process group) runs and which build serves it, its shared
 * libpython and headers, its pythonHome and pythonPath, and whether its daemon program starts.
 * Each finding is one {@link Check}: a status, what was found, and the fix.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findBuild } from '../../scripts/builds.js';
import { buildableProblem, describePython, embeddableProblem, minorOf, pythonTag, type PythonInfo } from '../../scripts/python.js';
import { missingToolchain } from '../../scripts/toolchain.js';
import { daemonEnvironment } from '../native/daemon-program.js';
import { buildCommand, describeBuilds, packageRoot, venvVersion, type ResolvedBuild } from '../native/loader.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  /** What was checked: python, libpython, build, headers, compiler, python-home, python-path, daemon, start, extensions, app, subinterpreters, config. */
  check: string;
  status: CheckStatus;
  message: string;
  fix?: string;
  /** The target it concerns when there are several (config files): 'embedded' or 'daemon NAME'. */
  target?: string;
}

/** How the user names each setting where the target comes from (command-line options or directive options). */
export interface SettingNames {
  python: string;
  pythonHome: string;
  pythonPath: string;
}

/** One Python setting to check: the embedded runtime or a daemon process group. */
export interface Target {
  label?: string;
  daemon: boolean;
  python?: string;
  /** Where `python` came from, for the message ('--python', 'python= of WSGIDaemonProcess x'). */
  pythonFrom?: string;
  pythonHome?: string;
  pythonPath: string[];
  names: SettingNames;
}

/** The Python a target runs and why, as Engine.start and daemon groups choose it. */
function choosePython(target: Target, defaultPython: () => { python: string; from: string }): { python: string; from: string } {
  if (target.python) return { python: target.python, from: target.pythonFrom ?? target.names.python };
  if (process.env.PYHOST_PYTHON) return { python: process.env.PYHOST_PYTHON, from: '$PYHOST_PYTHON' };
  if (target.pythonHome && venvVersion(target.pythonHome) !== undefined) {
    const py = ['python3', 'python'].map((n) => path.join(path.resolve(target.pythonHome!), 'bin', n)).find((p) => fs.existsSync(p));
    if (py) return { python: py, from: `the venv ${target.names.pythonHome} names` };
  }
  return defaultPython();
}

/** The result of the static checks: the checks, and the Python and build when pyhost can run it. */
export interface StaticResult {
  checks: Check[];
  runnable?: { python: PythonInfo; build: ResolvedBuild };
}

export function staticChecks(target: Target, defaultPython: () => { python: string; from: string }): StaticResult {
  const checks: Check[] = [];
  const add = (check: string, status: CheckStatus, message: string, fix?: string) =>
    checks.push({ check, status, message, ...(fix ? { fix } : {}), ...(target.label ? { target: target.label } : {}) });
  const chosen = choosePython(target, defaultPython);

  let info: PythonInfo;
  try {
    info = describePython(chosen.python);
  } catch (err) {
    add('python', 'fail', `${(err as Error).message} (the Python from ${chosen.from})`, `name a Python 3.11 or newer with ${target.names.python} PATH`);
    return { checks };
  }
  const venvNote = info.inVenv ? `, a venv of ${info.basePrefix}` : '';
  add('python', 'ok', `Python ${info.version} at ${info.executable}${venvNote} (from ${chosen.from})`);

  const cannotRun = embeddableProblem(info);
  if (cannotRun) {
    add(cannotRun.kind === 'libpython' ? 'libpython' : 'python', 'fail', cannotRun.problem, cannotRun.fix);
  } else {
    add('libpython', 'ok', `shared ${path.join(info.libpythonDir, info.libpythonName)}${info.libpython !== path.join(info.libpythonDir, info.libpythonName) ? ` (${info.libpython})` : ''}`);
  }

  const tag = pythonTag(info);
  const found = cannotRun ? undefined : findBuild(packageRoot, 'python', tag);
  const cannotBuild = buildableProblem(info);
  if (found) {
    const how = found.builtBy === 'prebuildify' ? 'prebuilt' : 'compiled here';
    add('build', 'ok', `${path.relative(packageRoot, found.addon)} serves Python ${minorOf(info.version)} (${tag}; ${how} with Python ${found.version ?? '?'})`);
    add('headers', 'ok', info.hasHeaders ? `C headers in ${info.include} (needed only to compile a build)` : 'no C headers (not needed: a build fits)');
  } else if (!cannotRun) {
    add('build', 'fail', `no build serves Python ${minorOf(info.version)} (${tag}) on ${process.platform}-${process.arch}; builds here serve Python ${describeBuilds()}`,
      `compile one: ${buildCommand(info.executable)}`);
    if (cannotBuild) add('headers', 'fail', `${cannotBuild.problem}: a build for it cannot be compiled`, cannotBuild.fix);
    else add('headers', 'ok', `C headers in ${info.include}`);
    const toolchain = missingToolchain();
    if (toolchain) {
      const parts = toolchain.split('; ');
      add('compiler', 'fail', `a build for it cannot be compiled: ${parts.slice(0, -1).join('; ')}`, parts.at(-1));
    }
    else add('compiler', 'ok', 'a C++ compiler and make are on PATH');
  }
  const build: ResolvedBuild | undefined = found ? { ...info, tag, addon: found.addon, daemon: found.daemon, builtWith: found.builtWith, builtBy: found.builtBy } : undefined;

  const homeOk = target.pythonHome ? checkHome(target, info, add) : true;
  for (const dir of target.pythonPath) checkPathEntry(dir, target, info, add);
  if (build) checkDaemon(build, target, add);
  return { checks, runnable: build && homeOk ? { python: info, build } : undefined };
}

type Add = (check: string, status: CheckStatus, message: string, fix?: string) => void;

/** pythonHome: a venv of the same minor, or a prefix with that minor's standard library. */
function checkHome(target: Target, info: PythonInfo, add: Add): boolean {
  const home = path.resolve(target.pythonHome!);
  const name = `${target.names.pythonHome} ${home}`;
  const minor = minorOf(info.version);
  if (!fs.existsSync(home) || !fs.statSync(home).isDirectory()) {
    add('python-home', 'fail', `${name} does not exist`, `create the venv (python${minor} -m venv ${home}) or correct ${target.names.pythonHome}`);
    return false;
  }
  const vv = venvVersion(home);
  if (vv !== undefined) {
    if (vv && minorOf(vv) !== minor) {
      add('python-home', 'fail', `${name} is a venv of Python ${vv}, but pyhost runs Python ${info.version} (${info.executable}) there`,
        `run the venv's own Python (${target.names.python} ${path.join(home, 'bin', 'python3')}, which needs a build for ${minorOf(vv)}) or recreate the venv with python${minor} -m venv`);
      return false;
    }
    const site = path.join(home, 'lib', `python${minor}`, 'site-packages');
    if (!fs.existsSync(site)) {
      add('python-home', 'warn', `${name} is a venv of Python ${vv || '?'} without ${site}`, `recreate it with python${minor} -m venv ${home}`);
      return true;
    }
    add('python-home', 'ok', `${name} is a venv of Python ${vv || minor} (site-packages ${site})`);
    return true;
  }
  const stdlib = path.join(home, 'lib', `python${minor}`, 'os.py');
  if (fs.existsSync(stdlib)) {
    add('python-home', 'ok', `${name} is a Python ${minor} prefix`);
    return true;
  }
  const others = fs.existsSync(path.join(home, 'lib')) ? fs.readdirSync(path.join(home, 'lib')).filter((d) => /^python3\.\d+$/.test(d)) : [];
  add('python-home', 'fail',
    others.length ? `${name} is a prefix of ${others.join(', ').replace(/python/g, 'Python ')}, not of Python ${minor}` : `${name} is neither a venv (no pyvenv.cfg) nor a Python ${minor} prefix (no ${stdlib})`,
    `name a venv made with python${minor}, or the prefix of Python ${info.version} (${info.prefix})`);
  return false;
}

const EXTENSION_TAG = /\.cpython-(3\d+)[a-z]*-[^.]*\.so$/;

/** Extension-module Python tags (311, 312) of the files in `dir` and its subdirectories, one level deep. */
function extensionTags(dir: string): Map<string, string> {
  const tags = new Map<string, string>();
  const scan = (d: string, depth: number) => {
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const m = EXTENSION_TAG.exec(e.name);
      if (m && e.isFile() && !tags.has(m[1])) tags.set(m[1], path.join(d, e.name));
      else if (e.isDirectory() && depth > 0) scan(path.join(d, e.name), depth - 1);
    }
  };
  scan(dir, 1);
  return tags;
}

/** A pythonPath entry: exists, and is not another Python version's site-packages. */
function checkPathEntry(dir: string, target: Target, info: PythonInfo, add: Add): void {
  const abs = path.resolve(dir);
  const name = `${target.names.pythonPath} ${abs}`;
  const minor = minorOf(info.version);
  if (!fs.existsSync(abs)) {
    add('python-path', 'warn', `${name} does not exist (Python skips it, so imports from it fail)`, `create it or remove it from ${target.names.pythonPath}`);
    return;
  }
  const sitesOf = /\/python(3\.\d+)\/(?:site|dist)-packages\/?$/.exec(abs);
  if (sitesOf && sitesOf[1] !== minor) {
    add('python-path', 'fail', `${name} is the site-packages of Python ${sitesOf[1]}, but pyhost runs Python ${info.version} there`,
      `use packages installed for Python ${minor} (a venv made with python${minor} as ${target.names.pythonHome})`);
    return;
  }
  const tags = extensionTags(abs);
  const ours = minor.replace('.', '');
  const foreign = [...tags].filter(([t]) => t !== ours);
  if (foreign.length && !tags.has(ours)) {
    add('python-path', 'fail', `${name} holds extension modules built for Python ${foreign.map(([t]) => `3.${t.slice(1)}`).join(', ')} (${path.basename(foreign[0][1])}), none for ${minor}: they will not import`,
      `install the packages for Python ${minor} (python${minor} -m pip install --target ${abs} ...) or use a venv made with python${minor}`);
    return;
  }
  add('python-path', 'ok', `${name} exists`);
}

/** Starts the daemon program with no arguments: it must run (and refuse, asking for --socket), not fail to load libpython. */
function checkDaemon(build: ResolvedBuild, target: Target, add: Add): void {
  const status: CheckStatus = target.daemon ? 'fail' : 'warn';
  if (!build.daemon || !fs.existsSync(build.daemon)) {
    add('daemon', status, `the build for ${build.tag} has no pyhost-daemon: daemon mode cannot start`, `compile it: ${buildCommand(build.executable)}`);
    return;
  }
  const env = daemonEnvironment(build, process.env);
  const r = spawnSync(build.daemon, [], { env, encoding: 'utf8', timeout: 10_000 });
  const loaderFailure = /error while loading shared libraries[^\n]*/.exec(r.stderr ?? '');
  if (r.error || r.status === 127 || loaderFailure) {
    add('daemon', status, `${path.basename(build.daemon)} does not start: ${loaderFailure?.[0] ?? r.error?.message ?? `exit ${r.status}`}`,
      `reinstall pyhost, or compile the build for this Python: ${buildCommand(build.executable)}`);
    return;
  }
  const via = env.LD_LIBRARY_PATH !== process.env.LD_LIBRARY_PATH ? ` (libpython found through LD_LIBRARY_PATH=${env.LD_LIBRARY_PATH})` : ' (the loader finds libpython by itself)';
  add('daemon', 'ok', `${path.basename(build.daemon)} starts with ${path.join(build.libpythonDir, build.libpythonName)}${via}`);
}
