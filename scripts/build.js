#!/usr/bin/env node
// Compiles pyhost here, with node-gyp, for Pythons that have no fitting build: the addon and
// daemon for each Python's minor version, plus the parts that link no Python (the front and the
// libpython preloader) when they are missing or were made from other sources. Builds are filed
// in prebuilds/<platform>-<arch>/ under the names a prebuild has (scripts/builds.js).
//
//   npm run build:native                       # $PYHOST_PYTHON, else python3
//   node scripts/build.js --python /path/to/python3.13 [--python ...]
//   node scripts/build.js --python P --if-needed   # skip a minor whose build was made from these sources
//   node scripts/build.js --debug
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileBuild, findBuild, isCurrent, PARTS, readDefault, writeDefault } from './builds.js';
import { checkBuildable, describePython, pythonTag } from './python.js';
import { buildEnv, findNodeGyp, missingToolchain, nodeDir, writePythonInfo } from './toolchain.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export class BuildError extends Error {}

/** Runs node-gyp for one part; returns build/Release (or Debug). Throws BuildError. */
function compilePart(part, info, tag, { debug }) {
  const toolchain = missingToolchain();
  if (toolchain) throw new BuildError(`cannot compile pyhost: ${toolchain}`);
  const infoFile = info ? writePythonInfo(info, tag) : undefined;
  const args = [findNodeGyp(), 'rebuild', `--jobs=${os.cpus().length}`];
  const nd = nodeDir();
  if (nd) args.push(`--nodedir=${nd}`);
  if (debug) args.push('--debug');
  try {
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: buildEnv(part, infoFile) });
    if (r.status !== 0) {
      throw new BuildError(`compiling the ${part} part${info ? ` for Python ${info.version}` : ''} failed (see the compiler output above)`);
    }
  } finally {
    if (infoFile) fs.rmSync(infoFile, { force: true });
  }
  return path.join(root, 'build', debug ? 'Debug' : 'Release');
}

/** Compiles the addon and daemon for `info`'s minor version and files them. */
export function buildPython(info, { debug = false } = {}) {
  const problem = checkBuildable(info);
  if (problem) throw new BuildError(problem);
  const tag = pythonTag(info);
  process.stdout.write(`pyhost build: compiling for Python ${info.version} (${info.executable}) as ${tag}\n`);
  const out = compilePart('python', info, tag, { debug });
  return fileBuild(root, { part: 'python', tag, python: info, builtBy: 'node-gyp', addon: path.join(out, 'pyhost.node'), daemon: path.join(out, 'pyhost-daemon') });
}

/** Compiles the parts that link no Python when they are missing (or, with `current`, made from other sources). */
export function buildPythonFreeParts({ debug = false, current = false } = {}) {
  for (const part of Object.keys(PARTS).filter((p) => p !== 'python')) {
    if (current ? isCurrent(root, part) : findBuild(root, part)) continue;
    process.stdout.write(`pyhost build: compiling ${PARTS[part].base()}\n`);
    const out = compilePart(part, undefined, undefined, { debug });
    fileBuild(root, { part, builtBy: 'node-gyp', addon: path.join(out, `${PARTS[part].base()}.node`) });
  }
}

function parseArgs(argv) {
  const opts = { pythons: [], ifNeeded: false, debug: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--python') {
      if (!argv[i + 1]) throw new BuildError('--python needs the path of a python executable');
      opts.pythons.push(argv[++i]);
    } else if (a.startsWith('--python=')) opts.pythons.push(a.slice(9));
    else if (a === '--if-needed') opts.ifNeeded = true;
    else if (a === '--debug') opts.debug = true;
    else throw new BuildError(`unknown option ${a} (expected --python PATH, --if-needed, --debug)`);
  }
  if (!opts.pythons.length) opts.pythons.push(process.env.PYHOST_PYTHON || 'python3');
  return opts;
}

function main(argv) {
  const opts = parseArgs(argv);
  for (const python of opts.pythons) {
    const info = describePython(python);
    const tag = pythonTag(info);
    if (opts.ifNeeded && isCurrent(root, 'python', tag)) {
      const b = findBuild(root, 'python', tag);
      process.stdout.write(`pyhost build: Python ${info.version} (${info.executable}) uses ${path.basename(b.addon)}, built from these sources\n`);
    } else {
      buildPython(info, opts);
    }
    if (!readDefault(root)) writeDefault(root, info, tag);
  }
  buildPythonFreeParts({ ...opts, current: true });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`pyhost build: ${err.message}\n`);
    process.exit(1);
  }
}
