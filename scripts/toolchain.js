// What compiling pyhost needs besides a Python: node-gyp (npm ships it), Node's headers, a C++
// compiler and make. Shared by scripts/build.js (compile here) and scripts/prebuild.js.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** node-gyp's entry script: npm's own copy, or one in node_modules. */
export function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  try {
    candidates.push(fileURLToPath(import.meta.resolve('node-gyp/bin/node-gyp.js')));
  } catch {}
  try {
    const npmBin = fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
    candidates.push(path.join(path.dirname(npmBin), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  } catch {}
  return candidates.find((c) => c && fs.existsSync(c));
}

/** Node's own headers when this Node has them (no download), else undefined. */
export function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node.h')) ? prefix : undefined;
}

function onPath(command) {
  if (command.includes('/')) return fs.existsSync(command);
  return (process.env.PATH || '').split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, command)));
}

/** Whether llhttp's C sources (the native HTTP front's parser) are where scripts/gyp_llhttp.cjs looks. */
function llhttpPresent() {
  const dir = process.env.PYHOST_LLHTTP;
  const files = dir
    ? ['llhttp.h', 'api.c', 'http.c', 'llhttp.c'].map((f) => path.join(dir, f))
    : ['/usr/share/include/llhttp/llhttp.h', ...['api.c', 'http.c', 'llhttp.c'].map((f) => path.join('/usr/share/llhttp', f))];
  return files.every((f) => fs.existsSync(f));
}

/**
 * Why this machine cannot compile pyhost (no C++ compiler, no make, no node-gyp, no llhttp
 * sources), as one sentence naming what to install; undefined when it can.
 */
export function missingToolchain() {
  const missing = [];
  const cxx = process.env.CXX ? [process.env.CXX.split(/\s+/)[0]] : ['g++', 'c++', 'clang++'];
  if (!cxx.some(onPath)) missing.push(process.env.CXX ? `the C++ compiler $CXX (${process.env.CXX})` : 'a C++ compiler (g++ or clang++)');
  if (!onPath('make')) missing.push('make');
  if (!findNodeGyp()) missing.push('node-gyp (it ships with npm: run this through npm)');
  const llhttp = llhttpPresent();
  if (!missing.length && llhttp) return undefined;
  const tools = missing.length ? `${missing.join(' and ')} not found on PATH; ` : '';
  const parser = llhttp ? '' : `llhttp's C sources not found (${process.env.PYHOST_LLHTTP ? `$PYHOST_LLHTTP ${process.env.PYHOST_LLHTTP}` : '/usr/share/llhttp'}); `;
  const packages = [...(missing.length ? ['build-essential'] : []), ...(llhttp ? [] : ['node-llhttp'])];
  return `${tools}${parser}on Debian/Ubuntu: apt-get install ${packages.join(' ')}`;
}

/** The environment node-gyp (directly or through prebuildify) builds `part` with. */
export function buildEnv(part, pythonInfoFile) {
  const env = { ...process.env, PYHOST_BUILD_PART: part };
  if (pythonInfoFile) env.PYHOST_PYTHON_INFO = pythonInfoFile;
  else delete env.PYHOST_PYTHON_INFO;
  const nd = nodeDir();
  if (nd) env.npm_config_nodedir = nd;
  return env;
}

/** Writes the Python facts binding.gyp reads to a temporary file; returns its path. */
export function writePythonInfo(info, tag) {
  const file = path.join(os.tmpdir(), `pyhost-python-${process.pid}-${tag}.json`);
  fs.writeFileSync(file, JSON.stringify(info));
  return file;
}
