#!/usr/bin/env node
// Compiles the native addon and daemon against one Python and files the result under
// prebuilds/<platform>-<arch>/<tag>/, so builds for several Pythons sit side by side.
//
//   npm run build                         # $PYHOST_PYTHON, else python3 (also the default build)
//   npm run build -- --python /path/to/python3.13
//   npm run build -- --all                # every Python found (python3, pyenv versions >= 3.11)
//   node scripts/build.js --if-missing    # npm install: skip when a build for that Python exists
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describePython, buildTag, checkBuildable, platformDir } from './python.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const opts = { pythons: [], ifMissing: false, all: false, debug: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--python') {
      if (!argv[i + 1]) fail('--python needs the path of a python executable');
      opts.pythons.push(argv[++i]);
    } else if (a.startsWith('--python=')) opts.pythons.push(a.slice(9));
    else if (a === '--if-missing') opts.ifMissing = true;
    else if (a === '--all') opts.all = true;
    else if (a === '--debug') opts.debug = true;
    else fail(`unknown option ${a} (expected --python PATH, --all, --if-missing, --debug)`);
  }
  return opts;
}

function fail(message) {
  process.stderr.write(`pyhost build: ${message}\n`);
  process.exit(1);
}

function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  try {
    candidates.push(fileURLToPath(import.meta.resolve('node-gyp/bin/node-gyp.js')));
  } catch {}
  try {
    const npmBin = fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
    candidates.push(path.join(path.dirname(npmBin), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  } catch {}
  const found = candidates.find((c) => c && fs.existsSync(c));
  if (!found) fail('node-gyp not found: it ships with npm; run the build through npm (`npm run build`)');
  return found;
}

function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node.h')) ? prefix : undefined;
}

function discoverPythons() {
  const found = new Set(['python3']);
  try {
    const pyenvRoot = execFileSync('pyenv', ['root'], { encoding: 'utf8' }).trim();
    for (const v of fs.readdirSync(path.join(pyenvRoot, 'versions'))) {
      const m = /^3\.(\d+)\.\d+$/.exec(v);
      if (m && Number(m[1]) >= 11) found.add(path.join(pyenvRoot, 'versions', v, 'bin', 'python3'));
    }
  } catch {}
  for (const p of ['/usr/bin/python3']) if (fs.existsSync(p)) found.add(p);
  return [...found];
}

function buildOne(python, { ifMissing, debug, isDefault }) {
  const info = describePython(python);
  const problem = checkBuildable(info);
  if (problem) fail(problem);
  const tag = buildTag(info);
  const outDir = path.join(root, 'prebuilds', platformDir(), tag);
  const addon = path.join(outDir, 'pyhost.node');
  if (ifMissing && fs.existsSync(addon)) {
    process.stdout.write(`pyhost build: Python ${info.version} (${info.executable}) already built as ${tag}\n`);
  } else {
    process.stdout.write(`pyhost build: compiling for Python ${info.version} (${info.libpython}) as ${tag}\n`);
    const infoFile = path.join(os.tmpdir(), `pyhost-python-${process.pid}-${tag}.json`);
    fs.writeFileSync(infoFile, JSON.stringify(info));
    const args = [findNodeGyp(), 'rebuild', `--jobs=${os.cpus().length}`];
    const nd = nodeDir();
    if (nd) args.push(`--nodedir=${nd}`);
    if (debug) args.push('--debug');
    const r = spawnSync(process.execPath, args, {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, PYHOST_PYTHON_INFO: infoFile },
    });
    fs.rmSync(infoFile, { force: true });
    if (r.status !== 0) fail(`compiling for Python ${info.version} failed (see the compiler output above)`);
    const built = path.join(root, 'build', debug ? 'Debug' : 'Release');
    fs.mkdirSync(outDir, { recursive: true });
    // Copy then rename: a running process keeps the old file (overwriting a mapped .so crashes it).
    const install = (from, to) => {
      fs.copyFileSync(from, to + '.tmp');
      fs.renameSync(to + '.tmp', to);
    };
    install(path.join(built, 'pyhost.node'), addon);
    const daemon = path.join(built, 'pyhost-daemon');
    if (fs.existsSync(daemon)) install(daemon, path.join(outDir, 'pyhost-daemon'));
    // The front addon links no Python: one copy serves every build.
    const front = path.join(built, 'pyhost_front.node');
    if (fs.existsSync(front)) install(front, path.join(root, 'prebuilds', platformDir(), 'pyhost_front.node'));
    fs.writeFileSync(path.join(outDir, 'python.json'), JSON.stringify({ tag, ...info }, null, 2) + '\n');
  }
  if (isDefault) {
    fs.writeFileSync(path.join(root, 'prebuilds', platformDir(), 'default.json'), JSON.stringify({ tag, python: info.executable, version: info.version }, null, 2) + '\n');
  }
  return tag;
}

const opts = parseArgs(process.argv.slice(2));
const defaultPython = process.env.PYHOST_PYTHON || 'python3';
if (opts.all) {
  for (const p of discoverPythons()) buildOne(p, { ...opts, isDefault: p === defaultPython });
} else if (opts.pythons.length) {
  const hasDefault = fs.existsSync(path.join(root, 'prebuilds', platformDir(), 'default.json'));
  opts.pythons.forEach((p, i) => buildOne(p, { ...opts, isDefault: !hasDefault && i === 0 }));
} else {
  buildOne(defaultPython, { ...opts, isDefault: true });
}
