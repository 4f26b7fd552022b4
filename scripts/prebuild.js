#!/usr/bin/env node
// `npm run prebuild`: makes the prebuilds a packed tarball ships, with prebuildify: for each
// CPython minor version (Python tag) this machine has, the addon and the daemon, plus the parts
// that link no Python. A minor whose build was made from the current sources is not compiled
// again (--force does). Each minor is compiled with its oldest patch release here: a build made
// against 3.11.2's headers uses nothing a later 3.11 lacks.
//
//   npm run prebuild                                   # every Python >= 3.11 found
//   npm run prebuild -- --python /usr/bin/python3.11 --python /opt/py313/bin/python3
//   npm run prebuild -- --force
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileBuild, findBuild, isCurrent, PARTS } from './builds.js';
import { checkBuildable, describePython, pythonTag } from './python.js';
import { buildEnv, findNodeGyp, missingToolchain, writePythonInfo } from './toolchain.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => process.stdout.write(`pyhost prebuild: ${line}\n`);

function fail(message) {
  process.stderr.write(`pyhost prebuild: ${message}\n`);
  process.exit(1);
}

/** python3, /usr/bin/python3.X and pyenv's versions, each as a PythonInfo, when they run. */
function discoverPythons() {
  const candidates = new Set(['python3']);
  for (const name of fs.existsSync('/usr/bin') ? fs.readdirSync('/usr/bin') : []) {
    if (/^python3\.\d+$/.test(name)) candidates.add(path.join('/usr/bin', name));
  }
  try {
    const pyenvRoot = execFileSync('pyenv', ['root'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    for (const v of fs.readdirSync(path.join(pyenvRoot, 'versions'))) {
      if (/^3\.\d+\.\d+t?$/.test(v)) candidates.add(path.join(pyenvRoot, 'versions', v, 'bin', 'python3'));
    }
  } catch {}
  const found = [];
  for (const c of candidates) {
    try {
      found.push(describePython(c));
    } catch {}
  }
  return found;
}

/** One Python per tag: the oldest patch release that can be built against. */
function oldestPerTag(infos) {
  const byTag = new Map();
  for (const info of infos) {
    const problem = checkBuildable(info);
    if (problem) {
      say(`skipping ${info.executable}: ${problem}`);
      continue;
    }
    const tag = pythonTag(info);
    const seen = byTag.get(tag);
    if (!seen || info.hexversion < seen.hexversion) byTag.set(tag, info);
  }
  return byTag;
}

/** Runs prebuildify for one part; it leaves the addon in the store under its prebuild name. */
function prebuildify(part, info, tag) {
  const cli = createRequire(import.meta.url).resolve('prebuildify/bin.js');
  const infoFile = info ? writePythonInfo(info, tag) : undefined;
  const env = { ...buildEnv(part, infoFile), PREBUILD_NODE_GYP: findNodeGyp() };
  const args = [cli, '--napi', '--strip', '--tag-libc', '--name', `${PARTS[part].base(tag)}.napi`, '--target', process.versions.node];
  try {
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
    if (r.status !== 0) fail(`prebuildify failed for the ${part} part${info ? ` (Python ${info.version})` : ''}; see its output above`);
  } finally {
    if (infoFile) fs.rmSync(infoFile, { force: true });
  }
}

function parseArgs(argv) {
  const opts = { pythons: [], force: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--python' && argv[i + 1]) opts.pythons.push(argv[++i]);
    else if (a.startsWith('--python=')) opts.pythons.push(a.slice(9));
    else if (a === '--force') opts.force = true;
    else fail(`unknown option ${a} (expected --python PATH, --force)`);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const toolchain = missingToolchain();
const infos = opts.pythons.length
  ? opts.pythons.map((p) => {
      try {
        return describePython(p);
      } catch (err) {
        return fail(err.message);
      }
    })
  : discoverPythons();
const chosen = oldestPerTag(infos);
if (opts.pythons.length && chosen.size < new Set(infos.map(pythonTag)).size) fail('a Python given with --python cannot be built against (see above)');
for (const [tag, info] of chosen) {
  if (!opts.force && isCurrent(root, 'python', tag)) {
    const b = findBuild(root, 'python', tag);
    say(`${tag}: ${path.basename(b.addon)} is current (built with Python ${b.builtWith?.version ?? '?'})`);
    continue;
  }
  if (toolchain) fail(toolchain);
  say(`${tag}: compiling with Python ${info.version} (${info.executable})`);
  prebuildify('python', info, tag);
  const daemon = path.join(root, 'build', 'Release', 'pyhost-daemon');
  spawnSync('strip', ['--strip-all', daemon], { stdio: 'inherit' });
  const b = fileBuild(root, { part: 'python', tag, python: info, builtBy: 'prebuildify', addon: findBuild(root, 'python', tag).addon, daemon });
  say(`${tag}: ${path.basename(b.addon)} and ${path.basename(b.daemon)}`);
}
for (const part of Object.keys(PARTS).filter((p) => p !== 'python')) {
  if (!opts.force && isCurrent(root, part)) continue;
  if (toolchain) fail(toolchain);
  prebuildify(part);
  fileBuild(root, { part, builtBy: 'prebuildify', addon: findBuild(root, part).addon });
}
