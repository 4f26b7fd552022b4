#!/usr/bin/env node
// `npm install`: uses the prebuilt addon and daemon for the Python's minor version when the
// package ships one that fits (no compiler, no Python headers needed), and compiles one only
// when none fits: another minor, another platform or libc. The Python is $PYHOST_PYTHON, else
// python3; it becomes the default of `pyhost` and `Engine.start()` without `python`.
// In a git checkout a build made from other sources counts as missing (the sources changed).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBuild, isCurrent, listBuilds, storeDir, writeDefault } from './builds.js';
import { BuildError, buildPython, buildPythonFreeParts } from './build.js';
import { checkEmbeddable, describePython, pythonTag } from './python.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => process.stdout.write(`pyhost install: ${line}\n`);

function main() {
  const info = describePython(process.env.PYHOST_PYTHON || 'python3');
  const problem = checkEmbeddable(info);
  if (problem) throw new BuildError(problem);
  const tag = pythonTag(info);
  const checkout = fs.existsSync(path.join(root, '.git'));
  const build = findBuild(root, 'python', tag);
  const fits = build && build.daemon && fs.existsSync(build.daemon) && (!checkout || isCurrent(root, 'python', tag));
  if (fits) {
    say(`Python ${info.version} (${info.executable}) uses ${path.relative(root, build.addon)}` +
      (build.builtBy === 'prebuildify' ? ' (prebuilt: nothing to compile)' : ''));
  } else {
    const here = listBuilds(root).map((b) => b.tag);
    say(`no build fits Python ${info.version} (${tag}) on ${path.basename(storeDir(root))} ` +
      `(builds here: ${here.length ? here.join(', ') : 'none'}): compiling one from source`);
    buildPython(info);
  }
  buildPythonFreeParts({ current: checkout });
  writeDefault(root, info, tag);
}

try {
  main();
} catch (err) {
  process.stderr.write(`pyhost install: ${err.message}\n`);
  process.exit(1);
}
