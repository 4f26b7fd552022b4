#!/usr/bin/env node
// `npm test`: makes sure what the tests need is here (Debian packages for real-app and
// mod_wsgi tests, native builds for the Python minors under test), runs ava, and ends with one line
// "N passed, N failed".
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEBIAN_PACKAGES = ['python3-flask', 'python3-django', 'python3-numpy', 'apache2', 'libapache2-mod-wsgi-py3', 'libpython3.11-dev', 'python3.11-venv', 'wrk', 'node-llhttp'];

function log(msg) {
  process.stderr.write(`[pyhost test] ${msg}\n`);
}

function ensureDebianPackages() {
  if (process.env.PYHOST_TEST_SKIP_APT) return;
  const missing = DEBIAN_PACKAGES.filter((p) => spawnSync('dpkg', ['-s', p], { stdio: 'ignore' }).status !== 0);
  if (!missing.length) return;
  if (process.getuid?.() !== 0) {
    log(`missing Debian packages (install them as root): ${missing.join(' ')}`);
    return;
  }
  log(`installing ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
  if (r.status !== 0) log('apt-get install failed; tests that need these packages will fail');
}

function pythonsUnderTest() {
  const list = ['/usr/bin/python3.11'];
  try {
    const pyenv = execFileSync('pyenv', ['root'], { encoding: 'utf8' }).trim();
    for (const v of ['3.13.0']) {
      const p = path.join(pyenv, 'versions', v, 'bin', 'python3');
      if (fs.existsSync(p)) list.push(p);
    }
  } catch {}
  return list.filter((p) => fs.existsSync(p));
}

// One build per Python minor serves every Python of that minor: prebuildify compiles only the
// minors with no build from the current sources (Debian's 3.11 uses the one `npm install` made).
function ensureBuilds() {
  const pythons = pythonsUnderTest();
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'prebuild.js'), ...pythons.flatMap((p) => ['--python', p])], { stdio: 'inherit' });
  if (r.status !== 0) log(`no build for some of ${pythons.join(', ')}; their tests will fail`);
}

function runAva(args) {
  return new Promise((resolve) => {
    const ava = path.join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
    const child = spawn(process.execPath, [ava, '--tap', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let passed = 0;
    let failed = 0;
    let buf = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (/^not ok \d+/.test(line)) {
          if (!/# (SKIP|TODO)/.test(line)) failed++;
        } else if (/^ok \d+/.test(line) && !/# (SKIP|TODO)/.test(line)) {
          passed++;
        }
      }
    });
    child.on('close', (code) => resolve({ passed, failed, code }));
  });
}

ensureDebianPackages();
ensureBuilds();
const { passed, failed, code } = await runAva(process.argv.slice(2));
// ava reports a crashed test file or an uncaught error without a "not ok" line: count it.
const crashed = code !== 0 && failed === 0 ? 1 : 0;
process.stdout.write(`\n${passed} passed, ${failed + crashed} failed\n`);
process.exit(code === 0 ? 0 : 1);
